package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/ratelimit"
)

// cmdKeys manages API keys: "moat keys new" makes one. The secret is
// printed once, on stdout; the config keeps only its hash, so a lost secret
// is replaced, not recovered.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, ok := subcommand(args, "new", keysUsage, stdout, stderr); !ok {
		return code
	}
	fs := newFlags("moat keys new", stderr, strings.TrimSuffix(keysUsage, "\n"))
	id := fs.String("id", "", "the key's name in logs and audit records (required; A-Z a-z 0-9 . _ -)")
	tools := fs.String("tools", "", "comma-separated tool names or globs the key may call (default: none)")
	scopes := fs.String("scopes", "", "comma-separated scopes the key holds (default: none)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: never expires)")
	rate := fs.String("rate", "", `per-key rate limit override, e.g. "10/s" (default: the server's)`)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "moat keys new: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	if *expires < 0 {
		fmt.Fprintln(stderr, "moat keys new: --expires must be positive")
		return exitUsage
	}
	var keyRate ratelimit.Rate
	if *rate != "" {
		if keyRate, err = ratelimit.ParseRate(*rate); err != nil {
			fmt.Fprintf(stderr, "moat keys new: --rate %q: write a rate like \"600/min\", \"10/s burst 20\" or \"unlimited\"\n", *rate)
			return exitUsage
		}
	}

	secret, hash, err := auth.NewKey()
	if err != nil {
		fmt.Fprintf(stderr, "moat keys new: %v\n", err)
		return exitInternal
	}
	k := auth.APIKey{ID: *id, Hash: hash, Tools: splitKeyList(*tools), Scopes: splitKeyList(*scopes), Rate: keyRate}
	if *expires > 0 {
		k.Expires = time.Now().Add(*expires).UTC().Truncate(time.Second)
	}
	if err := k.Validate(); err != nil {
		fmt.Fprintf(stderr, "moat keys new: %v\n", err)
		return exitUsage
	}
	if len(k.Tools) == 0 {
		fmt.Fprintln(stderr, "moat keys new: warning: no --tools, so this key can call no tool")
	}
	fmt.Fprintf(stdout, "# API key %q: shown only now; moat keeps only its hash.\n", k.ID)
	fmt.Fprintf(stdout, "%s\n\n", secret)
	fmt.Fprintf(stdout, "# Paste into moat.toml:\n%s", k.Snippet())
	return exitOK
}

const keysUsage = `usage: moat keys new --id NAME [--tools a,b*] [--scopes x,y] [--expires 720h] [--rate 10/s]

Makes a new API key: prints the secret once, and the [[auth.keys]] entry
(with the secret's hash, never the secret) to paste into moat.toml.
Clients send the secret as "Authorization: Bearer <secret>".
`

// splitKeyList splits a comma-separated flag value, dropping empty items.
func splitKeyList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
