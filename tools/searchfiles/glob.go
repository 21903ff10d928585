package main

import (
	"errors"
	"path"
	"strings"
)

// errBadGlob is a glob that does not parse.
var errBadGlob = errors.New("invalid glob")

// maxDoubleStar bounds the "**" segments of one glob.
const maxDoubleStar = 4

// A glob is matched against a file's path relative to the search root,
// "/" separated:
//
//   - with no "/" in it, against the file's base name only ("*.md" finds
//     markdown files in every folder);
//   - with a "/", against the whole path, one segment per segment, where a
//     segment "**" matches zero or more folders ("notes/**/*.md",
//     "**/draft-*.txt").
//
// Within a segment the syntax is path.Match's: *, ?, [a-z], [^a-z], \x.
// Matching is case-sensitive. At most maxDoubleStar "**" segments: each one
// multiplies the ways a path can be split.

// checkGlob reports whether g is a glob matchGlob accepts.
func checkGlob(g string) error {
	if g == "" {
		return nil
	}
	stars := 0
	for _, seg := range strings.Split(g, "/") {
		if seg == "**" {
			if stars++; stars > maxDoubleStar {
				return errBadGlob
			}
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return errBadGlob
		}
	}
	return nil
}

// matchGlob reports whether rel, a clean relative path, matches g, which
// checkGlob accepted.
func matchGlob(g, rel string) bool {
	if !strings.Contains(g, "/") {
		ok, _ := path.Match(g, path.Base(rel))
		return ok
	}
	return matchSegments(strings.Split(g, "/"), strings.Split(rel, "/"))
}

// matchSegments matches path segments. "**" tries every split; the number
// of segments is bounded by the walk's depth limit, and consecutive "**"
// are merged, so the work stays small.
func matchSegments(g, p []string) bool {
	for len(g) > 0 {
		if g[0] == "**" {
			for len(g) > 1 && g[1] == "**" {
				g = g[1:]
			}
			if len(g) == 1 {
				return true
			}
			for i := 0; i <= len(p); i++ {
				if matchSegments(g[1:], p[i:]) {
					return true
				}
			}
			return false
		}
		if len(p) == 0 {
			return false
		}
		if ok, _ := path.Match(g[0], p[0]); !ok {
			return false
		}
		g, p = g[1:], p[1:]
	}
	return len(p) == 0
}
