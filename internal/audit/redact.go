package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Redaction limits and markers.
const (
	// Redacted replaces a sensitive or credential-looking value.
	Redacted = "[REDACTED]"
	// MaxStringBytes is how much of a long string the summary keeps; the
	// rest is replaced by "…(N bytes)" where N is the original length.
	MaxStringBytes = 256
	// MaxSummaryBytes caps a whole summary; a larger one becomes
	// {"_truncated": N} where N is the length of the arguments.
	MaxSummaryBytes = 4 << 10
)

// maxDepth bounds the nesting Summarize follows; deeper values are replaced
// by a marker. The host's own decoder already refuses deeper documents.
const maxDepth = 64

// Summarize returns the argument summary for the audit log: JSON of the same
// shape as args, except that
//
//  1. the value at every path in sensitivePaths becomes "[REDACTED]";
//  2. the value under any key whose name says it holds a secret (password,
//     token, api_key, authorization, secret, ..., compared case-blind and
//     ignoring '-' and '_') becomes "[REDACTED]";
//  3. any string (value or key) that looks like a credential becomes
//     "[REDACTED]" (a key, "[REDACTED]#N" when N > 1 in one object): bearer and
//     basic credentials, JWTs, moat_ keys, AWS access key ids, GitHub, Slack,
//     OpenAI, Stripe and Google keys, PEM private keys, URLs with a password,
//     and runs of 32 or more base64 or hex characters with high entropy;
//  4. strings longer than MaxStringBytes keep their first MaxStringBytes
//     bytes followed by "…(N bytes)".
//
// A summary longer than MaxSummaryBytes becomes {"_truncated":N}; args that
// are not one JSON value become {"_unparsed":N} (N: len(args)). Empty args
// give nil.
//
// A path in sensitivePaths is a JSON Pointer (RFC 6901) into args, in which a
// "*" segment matches any one member name or array index and a "**" segment
// matches any number of segments (schema.Schema.SensitivePaths writes both). An entry that
// does not start with "/" is a bare member name, matched at any depth (as
// "/**/name"): the form a manifest's redact list uses. "" or "/**" redacts
// everything.
//
// It runs on every tool call, before the audit record is written: valid
// JSON (the common case) is summarised by a scanner over the raw bytes that
// allocates little (summary.go); anything else by encoding/json's tokens
// (summarizeTokens), which say where the input stops being JSON. Both give
// the same output for valid JSON (FuzzSummarizeScanner).
func Summarize(args json.RawMessage, sensitivePaths []string) json.RawMessage {
	if len(bytes.TrimSpace(args)) == 0 {
		return nil
	}
	paths := compilePaths(sensitivePaths)
	if json.Valid(args) {
		if out := summarizeValid(args, paths); out != nil {
			return out
		}
		return json.RawMessage(`{"_truncated":` + strconv.Itoa(len(args)) + `}`)
	}
	return summarizeTokens(args, paths)
}

// summarizeTokens is Summarize over encoding/json's tokens: the path for
// arguments that are not valid JSON (it stops where the decoder does), and
// the reference FuzzSummarizeScanner compares summarizeValid with.
func summarizeTokens(args json.RawMessage, paths [][]string) json.RawMessage {
	s := &summarizer{paths: paths}
	s.enc = json.NewEncoder(&s.out)
	s.enc.SetEscapeHTML(false)
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	err := s.value(dec, nil, 0)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errUnparsed
		}
	}
	switch {
	case errors.Is(err, errTooLong):
		return json.RawMessage(`{"_truncated":` + strconv.Itoa(len(args)) + `}`)
	case err != nil:
		return json.RawMessage(`{"_unparsed":` + strconv.Itoa(len(args)) + `}`)
	}
	return json.RawMessage(s.out.Bytes())
}

var (
	errUnparsed = errors.New("unparsed")
	errTooLong  = errors.New("too long")
)

type summarizer struct {
	paths [][]string
	out   bytes.Buffer
	enc   *json.Encoder // writes to out
}

func (s *summarizer) value(dec *json.Decoder, path []string, depth int) error {
	t, err := dec.Token()
	if err != nil {
		return errUnparsed
	}
	if matchAny(s.paths, path) {
		if err := skip(dec, t); err != nil {
			return err
		}
		return s.str(Redacted)
	}
	switch v := t.(type) {
	case json.Delim:
		if depth >= maxDepth {
			if err := skip(dec, t); err != nil {
				return err
			}
			return s.str("[TOO DEEP]")
		}
		if v == '[' {
			return s.array(dec, path, depth)
		}
		return s.object(dec, path, depth)
	case string:
		return s.str(scrub(v))
	case json.Number:
		if looksSecret(string(v)) {
			return s.str(Redacted)
		}
		if len(v) > MaxStringBytes {
			return s.str(truncate(string(v)))
		}
		return s.raw(string(v))
	case bool:
		return s.raw(strconv.FormatBool(v))
	case nil:
		return s.raw("null")
	}
	return errUnparsed
}

func (s *summarizer) array(dec *json.Decoder, path []string, depth int) error {
	if err := s.raw("["); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		if i > 0 {
			if err := s.raw(","); err != nil {
				return err
			}
		}
		if err := s.value(dec, append(path, strconv.Itoa(i)), depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return errUnparsed
	}
	return s.raw("]")
}

func (s *summarizer) object(dec *json.Decoder, path []string, depth int) error {
	if err := s.raw("{"); err != nil {
		return err
	}
	redactedKeys := 0
	for i := 0; dec.More(); i++ {
		if i > 0 {
			if err := s.raw(","); err != nil {
				return err
			}
		}
		t, err := dec.Token()
		if err != nil {
			return errUnparsed
		}
		key, ok := t.(string)
		if !ok {
			return errUnparsed
		}
		shown := scrub(key)
		if shown == Redacted {
			redactedKeys++
			if redactedKeys > 1 {
				shown += "#" + strconv.Itoa(redactedKeys)
			}
		}
		if err := s.str(shown); err != nil {
			return err
		}
		if err := s.raw(":"); err != nil {
			return err
		}
		if secretKeyName(key) {
			t, err := dec.Token()
			if err != nil {
				return errUnparsed
			}
			if err := skip(dec, t); err != nil {
				return err
			}
			if err := s.str(Redacted); err != nil {
				return err
			}
			continue
		}
		if err := s.value(dec, append(path, key), depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return errUnparsed
	}
	return s.raw("}")
}

// skip consumes the rest of the value that starts with token t.
func skip(dec *json.Decoder, t json.Token) error {
	if d, ok := t.(json.Delim); !ok || (d != '{' && d != '[') {
		return nil
	}
	for n := 1; n > 0; {
		t, err := dec.Token()
		if err != nil {
			return errUnparsed
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				n++
			} else {
				n--
			}
		}
	}
	return nil
}

func (s *summarizer) raw(v string) error {
	s.out.WriteString(v)
	if s.out.Len() > MaxSummaryBytes {
		return errTooLong
	}
	return nil
}

// str writes v as a JSON string. HTML characters are not escaped, so the
// summary reads as the arguments did.
func (s *summarizer) str(v string) error {
	s.enc.Encode(v)                 // a string cannot fail to encode
	s.out.Truncate(s.out.Len() - 1) // Encode's newline
	if s.out.Len() > MaxSummaryBytes {
		return errTooLong
	}
	return nil
}

// scrub returns Redacted for a credential-looking string, s truncated when it
// is long, and s otherwise.
func scrub(s string) string {
	if looksSecret(s) {
		return Redacted
	}
	return truncate(s)
}

func truncate(s string) string {
	if len(s) <= MaxStringBytes {
		return s
	}
	return truncateUTF8(s, MaxStringBytes) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// secretNames are member names whose value is a secret whatever it looks
// like, normalised by normKey.
var secretNames = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "pwd": true,
	"secret": true, "clientsecret": true, "token": true, "accesstoken": true,
	"refreshtoken": true, "idtoken": true, "authtoken": true, "bearer": true,
	"apikey": true, "xapikey": true, "authorization": true, "privatekey": true,
	"credentials": true, "credential": true, "cookie": true, "setcookie": true,
	"sessionid": true, "session": true, "otp": true, "pin": true,
}

func secretKeyName(k string) bool {
	if len(k) > 32 {
		return false
	}
	return secretNames[normKey(k)]
}

func normKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-' || c == '_':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// credentialPatterns match well-known credential formats anywhere in a
// string. None is anchored or uses \b: a string that contains a match must
// still match when more text surrounds it (FuzzSummarize relies on that).
var credentialPatterns = regexp.MustCompile(strings.Join([]string{
	`(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}`,
	`(?i:basic)\s+[A-Za-z0-9+/]{12,}=*`,
	`eyJ[A-Za-z0-9_-]{8,}`,                            // JWT / JWS / JWE (base64url of '{"')
	`moat_[A-Za-z0-9_-]{8,}`,                          // moat API keys
	`(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}`, // AWS access key id
	`gh[pousr]_[A-Za-z0-9]{20,}`,                      // GitHub tokens
	`github_pat_[A-Za-z0-9_]{20,}`,                    // GitHub fine-grained PAT
	`xox[abposr]-[A-Za-z0-9-]{8,}`,                    // Slack
	`sk-[A-Za-z0-9_-]{20,}`,                           // OpenAI, Anthropic
	`[sr]k_(?:live|test)_[A-Za-z0-9]{16,}`,            // Stripe
	`AIza[A-Za-z0-9_-]{35}`,                           // Google API key
	`-----BEGIN[A-Z ]*PRIVATE KEY`,                    // PEM private keys
	`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@`,   // URL with a password
}, "|"))

// looksSecret reports whether s contains something that looks like a
// credential: a known format, or a high-entropy run (see highEntropy).
func looksSecret[T string | []byte](s T) bool {
	return mayMatchPattern(s) && credentialPatterns.MatchString(string(s)) || highEntropy(s)
}

// patternLiterals holds, for each of credentialPatterns, a literal every
// match contains (bearer and basic are checked case-blind). Scanning for them
// is far cheaper than running the regexp, and most strings contain none.
var patternLiterals = []string{
	"eyJ", "moat_", "AKIA", "ASIA", "ABIA", "ACCA", "A3T", "ghp_", "gho_",
	"ghu_", "ghs_", "ghr_", "github_pat_", "xox", "sk-", "k_live_", "k_test_",
	"AIza", "PRIVATE KEY", "://",
}

// mayMatchPattern is a necessary condition for credentialPatterns to match.
func mayMatchPattern[T string | []byte](s T) bool {
	if len(s) < 7 { // the shortest match, "a://:b@", has 7 bytes
		return false
	}
	for _, lit := range patternLiterals {
		if contains(s, lit) {
			return true
		}
	}
	return containsFold(s, "bearer") || containsFold(s, "basic")
}

// containsFold reports whether s contains the lower-case ASCII word lit,
// ignoring ASCII case.
func containsFold[T string | []byte](s T, lit string) bool {
	for i := 0; i+len(lit) <= len(s); i++ {
		j := 0
		for ; j < len(lit); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lit[j] {
				break
			}
		}
		if j == len(lit) {
			return true
		}
	}
	return false
}

// contains reports whether s contains lit (strings.Contains for either
// type, without converting s).
func contains[T string | []byte](s T, lit string) bool {
	for i := 0; i+len(lit) <= len(s); i++ {
		if s[i] == lit[0] && string(s[i:i+len(lit)]) == lit {
			return true
		}
	}
	return false
}

// entropyWindow is the length of the runs highEntropy measures.
const entropyWindow = 32

// highEntropy reports whether s holds 32 consecutive base64/base64url/hex
// characters whose Shannon entropy is that of a random key rather than of
// words. All hex digits: ≥ 3.0 bits per character (random hex averages
// ≈ 3.8). Otherwise: ≥ 3.9 with at least one digit, or ≥ 4.3 without (random
// base64 averages ≈ 4.4 and stays above 3.86; a 40-letter CamelCase
// identifier measures ≈ 4.0 and has no digit). About 1 in 500 random 32-byte
// base64 keys without a digit slips under; longer keys give more windows.
// Every window is measured, so a key hidden inside a longer low-entropy run
// is still found.
func highEntropy[T string | []byte](s T) bool {
	if len(s) < entropyWindow {
		return false
	}
	var counts [256]int
	run := 0    // length of the current run of key characters, capped at the window
	nonHex := 0 // non-hex characters within the window
	digits := 0 // digits within the window
	sumCLogC := 0.0
	add := func(c byte, d int) {
		n := counts[c]
		sumCLogC -= clogc(n)
		counts[c] = n + d
		sumCLogC += clogc(n + d)
		if !isHexDigit(c) {
			nonHex += d
		}
		if '0' <= c && c <= '9' {
			digits += d
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isKeyChar(c) {
			for j := i - run; j < i; j++ {
				add(s[j], -1)
			}
			run = 0
			continue
		}
		add(c, +1)
		run++
		if run > entropyWindow {
			add(s[i-entropyWindow], -1)
			run = entropyWindow
		}
		if run == entropyWindow {
			// H = log2(W) - (1/W) Σ c·log2(c)
			h := math.Log2(entropyWindow) - sumCLogC/entropyWindow
			if nonHex == 0 && h >= 3.0 || digits > 0 && h >= 3.9 || h >= 4.3 {
				return true
			}
		}
	}
	return false
}

func clogc(n int) float64 {
	if n <= 1 {
		return 0
	}
	return float64(n) * math.Log2(float64(n))
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isKeyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}

// compilePaths splits each path into segments (unescaped per RFC 6901).
func compilePaths(paths []string) [][]string {
	out := make([][]string, 0, len(paths))
	for _, p := range paths {
		switch {
		case p == "":
			out = append(out, []string{}) // the whole document
		case p[0] != '/':
			out = append(out, []string{"**", p})
		default:
			segs := strings.Split(p[1:], "/")
			for i, s := range segs {
				segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
			}
			out = append(out, segs)
		}
	}
	return out
}

func matchAny(patterns [][]string, path []string) bool {
	for _, p := range patterns {
		if match(p, path) {
			return true
		}
	}
	return false
}

// match reports whether path matches pattern exactly, where "*" matches one
// segment and "**" any number of segments (including none).
func match(pattern, path []string) bool {
	for len(pattern) > 0 {
		if pattern[0] == "**" {
			rest := pattern[1:]
			for i := 0; i <= len(path); i++ {
				if match(rest, path[i:]) {
					return true
				}
			}
			return false
		}
		if len(path) == 0 || (pattern[0] != "*" && pattern[0] != path[0]) {
			return false
		}
		pattern, path = pattern[1:], path[1:]
	}
	return len(path) == 0
}
