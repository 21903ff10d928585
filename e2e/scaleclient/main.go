// Command scaleclient drives e2e/scale.sh: the client side of the
// scale-out suite (docs/scale.md), against three moat replicas behind
// HAProxy, sharing their limits in Redis. Each scenario prints one line
// "scale: NAME: ok ..." and exits 0, or says what failed and exits 1.
// Every request has a timeout; every loop is bounded.
//
//	scaleclient keygen                       print a key secret and its hash
//	scaleclient status URL                   print the HTTP status of GET URL
//	scaleclient spread  -lb URL -metrics A,B,C -n N
//	scaleclient stateless -lb URL -metrics A,B,C -n N
//	scaleclient limit   -lb URL -key K -burst B
//	scaleclient legacy  -lb URL -calls N
//	scaleclient load    -lb URL -duration D -workers W [-kill PID -kill-after D]
//	scaleclient down    -lb URL -replicas A,B,C
//	scaleclient recover -lb URL -timeout D
//	scaleclient authfail -lb URL -burst B
//	scaleclient mrtr    -replicas A,B,C
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() { os.Exit(run(os.Args[1:])) }

var client = &http.Client{Timeout: 10 * time.Second}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: scaleclient SCENARIO [flags]")
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	lb := fs.String("lb", "", "the load balancer's /mcp URL")
	key := fs.String("key", os.Getenv("SCALE_KEY"), "the bearer secret (default $SCALE_KEY)")
	metricsURLs := fs.String("metrics", "", "each replica's /metrics URL, comma-separated")
	replicas := fs.String("replicas", "", "each replica's base URL, comma-separated")
	n := fs.Int("n", 30, "sessions")
	burst := fs.Int("burst", 20, "the limit's burst")
	calls := fs.Int("calls", 10, "calls in one session")
	duration := fs.Duration("duration", 6*time.Second, "load duration")
	workers := fs.Int("workers", 4, "concurrent clients")
	killPID := fs.Int("kill", 0, "a replica to kill (SIGKILL) during the load")
	killAfter := fs.Duration("kill-after", 2*time.Second, "when to kill it")
	timeout := fs.Duration("timeout", 20*time.Second, "how long to wait for recovery")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	c := &mcpClient{url: *lb, key: *key}
	var err error
	switch args[0] {
	case "keygen":
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret := "moat_" + base64.RawURLEncoding.EncodeToString(b[:])
		sum := sha256.Sum256([]byte(secret))
		fmt.Printf("%s sha256:%s\n", secret, hex.EncodeToString(sum[:]))
		return 0
	case "status": // scaleclient status URL: prints the HTTP status of a GET
		resp, err := client.Get(fs.Arg(0))
		if err != nil {
			return 1
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
		return 0
	case "spread":
		err = spread(c, strings.Split(*metricsURLs, ","), *n, "short sessions", c.short)
	case "stateless":
		err = spread(c, strings.Split(*metricsURLs, ","), *n, "stateless 2026-07-28 calls", c.stateless)
	case "limit":
		err = limit(c, *burst)
	case "legacy":
		err = legacy(c, *calls)
	case "load":
		err = load(c, *duration, *workers, *killPID, *killAfter)
	case "down":
		err = down(c, strings.Split(*replicas, ","))
	case "recover":
		err = recoverWait(c, *timeout)
	case "authfail":
		err = authfail(c, *burst)
	case "mrtr":
		err = mrtr(*key, strings.Split(*replicas, ","))
	default:
		fmt.Fprintf(os.Stderr, "scaleclient: unknown scenario %q\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Printf("scale: %s: FAIL: %v\n", args[0], err)
		return 1
	}
	return 0
}

// mcpClient speaks just enough MCP over Streamable HTTP (2025-11-25).
type mcpClient struct{ url, key string }

type reply struct {
	status  int
	session string
	body    string
	msg     map[string]any // the JSON-RPC response, from JSON or SSE
}

func (c *mcpClient) do(method, session, body string) (*reply, error) {
	return c.doWith(method, session, body, nil)
}

// doWith is do with extra request headers.
func (c *mcpClient) doWith(method, session, body string, extra map[string]string) (*reply, error) {
	req, err := http.NewRequest(method, c.url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	}
	var m struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal([]byte(body), &m)
	if m.Method != "" {
		req.Header.Set("Mcp-Method", m.Method) // lets a load balancer route on it
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r := &reply{status: resp.StatusCode, session: resp.Header.Get("Mcp-Session-Id"), body: string(b)}
	data := b
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		data = nil
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(d, `"id"`) {
				data = []byte(d)
			}
		}
	}
	_ = json.Unmarshal(data, &r.msg)
	return r, nil
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"scale","version":"0"}}}`

func callBody(id int, msg string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"msg":%q}}}`, id, msg)
}

// open starts a session.
func (c *mcpClient) open() (string, error) {
	r, err := c.do("POST", "", initBody)
	if err != nil {
		return "", err
	}
	if r.status != 200 || r.session == "" {
		return "", fmt.Errorf("initialize: HTTP %d %s", r.status, trim(r.body))
	}
	if r2, err := c.do("POST", r.session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
		return "", err
	} else if r2.status >= 300 {
		return "", fmt.Errorf("initialized: HTTP %d", r2.status)
	}
	return r.session, nil
}

// call makes one tools/call; limited is true for a rate-limit refusal
// (HTTP 429, or a tool error saying so).
func (c *mcpClient) call(session string, id int) (limited bool, err error) {
	r, err := c.do("POST", session, callBody(id, "hi"))
	if err != nil {
		return false, err
	}
	if r.status == http.StatusTooManyRequests {
		return true, nil
	}
	if r.status != 200 {
		return false, fmt.Errorf("tools/call: HTTP %d %s", r.status, trim(r.body))
	}
	res, _ := r.msg["result"].(map[string]any)
	if res == nil {
		return false, fmt.Errorf("tools/call: no result: %s", trim(r.body))
	}
	if isErr, _ := res["isError"].(bool); isErr {
		if strings.Contains(r.body, "rate limit") {
			return true, nil
		}
		return false, fmt.Errorf("tools/call: tool error: %s", trim(r.body))
	}
	return false, nil
}

func (c *mcpClient) close(session string) { _, _ = c.do("DELETE", session, "") }

// stateless is one call of a 2026-07-28 client: no initialize, no
// session, the version and client in the request's _meta and headers; a
// load balancer may send each to any replica.
func (c *mcpClient) stateless(id int) (limited bool, err error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"msg":"hi"},`+
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"scale","version":"0"},"io.modelcontextprotocol/clientCapabilities":{}}}}`, id)
	r, err := c.doWith("POST", "", body, map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Name": "echo"})
	if err != nil {
		return false, err
	}
	if r.status == http.StatusTooManyRequests {
		return true, nil
	}
	if r.status != 200 || r.session != "" {
		return false, fmt.Errorf("stateless tools/call: HTTP %d, session %q: %s", r.status, r.session, trim(r.body))
	}
	if res, _ := r.msg["result"].(map[string]any); res == nil || res["isError"] == true {
		return false, fmt.Errorf("stateless tools/call: %s", trim(r.body))
	}
	return false, nil
}

// short is one short session: open, one call, close.
func (c *mcpClient) short(id int) (limited bool, err error) {
	s, err := c.open()
	if err != nil {
		return false, err
	}
	defer c.close(s)
	return c.call(s, id)
}

func trim(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// echoCalls reads moat_tool_calls_total{outcome="ok",tool="echo"} from
// one replica's /metrics.
func echoCalls(url string) (float64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "moat_tool_calls_total{") && strings.Contains(line, `outcome="ok"`) && strings.Contains(line, `tool="echo"`) {
			f := strings.Fields(line)
			return strconv.ParseFloat(f[len(f)-1], 64)
		}
	}
	return 0, sc.Err()
}

// spread: n calls (each made by call) through the load balancer land on
// every replica (each replica's own metrics count some of the calls).
func spread(c *mcpClient, metrics []string, n int, what string, call func(int) (bool, error)) error {
	before := make([]float64, len(metrics))
	for i, m := range metrics {
		v, err := echoCalls(m)
		if err != nil {
			return err
		}
		before[i] = v
	}
	for i := range n {
		if limited, err := call(i); err != nil || limited {
			return fmt.Errorf("%s: call %d: limited %v, %v", what, i, limited, err)
		}
	}
	var per []string
	total := 0.0
	for i, m := range metrics {
		v, err := echoCalls(m)
		if err != nil {
			return err
		}
		d := v - before[i]
		total += d
		per = append(per, strconv.Itoa(int(d)))
		if d == 0 {
			return fmt.Errorf("replica %d served none of %d calls (per replica: %s)", i+1, n, strings.Join(per, ","))
		}
	}
	if int(total) != n {
		return fmt.Errorf("replicas counted %v calls; want %d", total, n)
	}
	fmt.Printf("scale: spread: ok: %d %s over %d replicas: %s\n", n, what, len(metrics), strings.Join(per, " / "))
	return nil
}

// limit: a key with its own rate "1/hour burst B" makes 3·B calls, each
// in a session of its own (so spread over the replicas): the shared limit
// allows B of them, within one burst of slack; unshared it would allow
// up to 3·B.
func limit(c *mcpClient, burst int) error {
	allowed, limited := 0, 0
	for i := range 3 * burst {
		l, err := c.short(i)
		if err != nil {
			return fmt.Errorf("call %d: %w", i, err)
		}
		if l {
			limited++
		} else {
			allowed++
		}
	}
	if allowed < burst || allowed >= 2*burst {
		return fmt.Errorf("allowed %d of %d calls; want %d (at most one burst of slack)", allowed, 3*burst, burst)
	}
	fmt.Printf("scale: limit: ok: %d of %d calls allowed across replicas (burst %d), %d refused\n", allowed, 3*burst, burst, limited)
	return nil
}

// legacy: one 2025-11-25 session keeps working through the load balancer:
// every request carries its Mcp-Session-Id, and HAProxy's affinity sends
// it to the replica that holds the session (another would answer 404).
func legacy(c *mcpClient, calls int) error {
	s, err := c.open()
	if err != nil {
		return err
	}
	defer c.close(s)
	for i := range calls {
		if limited, err := c.call(s, 10+i); err != nil || limited {
			return fmt.Errorf("call %d in one session: limited %v, %v", i, limited, err)
		}
	}
	fmt.Printf("scale: legacy: ok: %d calls in one session through the load balancer\n", calls)
	return nil
}

// load: workers make short sessions for duration; one replica is killed
// after killAfter. Only calls in flight on it may fail (a few per worker
// while HAProxy notices), and calls keep succeeding afterwards.
func load(c *mcpClient, duration time.Duration, workers, killPID int, killAfter time.Duration) error {
	var ok, failed, okAfterKill atomic.Int64
	var killed atomic.Bool
	var firstErr error
	var errMu sync.Mutex
	start := time.Now()
	stop := start.Add(duration)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				limited, err := c.short(w*1_000_000 + i)
				switch {
				case err != nil:
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				case limited:
					failed.Add(1)
				default:
					ok.Add(1)
					if killed.Load() {
						okAfterKill.Add(1)
					}
				}
			}
		})
	}
	if killPID > 0 {
		time.Sleep(killAfter) // the load runs meanwhile: this is the moment of the crash, not a synchronisation
		if err := syscall.Kill(killPID, syscall.SIGKILL); err != nil {
			return fmt.Errorf("kill %d: %w", killPID, err)
		}
		killed.Store(true)
	}
	wg.Wait()
	el := time.Since(start)
	rate := float64(ok.Load()) / el.Seconds()
	fmt.Printf("scale: load: %d sessions ok (%.0f/s, each initialize + call + delete), %d failed, %d ok after the kill\n", ok.Load(), rate, failed.Load(), okAfterKill.Load())
	if killPID > 0 {
		if okAfterKill.Load() == 0 {
			return errors.New("no call succeeded after a replica was killed")
		}
		if f := failed.Load(); f > int64(3*workers) {
			return fmt.Errorf("%d calls failed; want at most %d (the calls in flight on the killed replica); first: %v", f, 3*workers, firstErr)
		}
	} else if failed.Load() > 0 {
		return fmt.Errorf("%d calls failed; first: %v", failed.Load(), firstErr)
	}
	fmt.Println("scale: load: ok")
	return nil
}

// down: with Redis stopped, each replica refuses with 503 and an error id
// and is not ready; the load balancer has no server to offer (503).
func down(c *mcpClient, replicas []string) error {
	deadline := time.Now().Add(15 * time.Second)
	for _, base := range replicas {
		rc := &mcpClient{url: base + "/mcp", key: c.key}
		for {
			r, err := rc.do("POST", "", initBody)
			if err != nil {
				return err
			}
			if r.status == http.StatusServiceUnavailable {
				if !strings.Contains(r.body, "error id ") || strings.Contains(r.body, "refused") || strings.Contains(r.body, "dial") {
					return fmt.Errorf("%s: 503 without an error id, or with Go error text: %s", base, trim(r.body))
				}
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: HTTP %d with Redis stopped; want 503", base, r.status)
			}
			time.Sleep(100 * time.Millisecond) // the replica finds Redis gone at its next check
		}
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("%s/readyz: HTTP %d %s with Redis stopped", base, resp.StatusCode, b)
		}
	}
	r, err := c.do("POST", "", initBody)
	if err != nil {
		return err
	}
	if r.status != http.StatusServiceUnavailable {
		return fmt.Errorf("through the load balancer: HTTP %d with Redis stopped; want 503", r.status)
	}
	fmt.Printf("scale: down: ok: %d replicas answer 503 with an error id and are not ready; the load balancer answers 503\n", len(replicas))
	return nil
}

// recoverWait: after Redis is back, service resumes by itself.
func recoverWait(c *mcpClient, timeout time.Duration) error {
	start := time.Now()
	var last error
	for time.Since(start) < timeout {
		if _, last = c.short(1); last == nil {
			fmt.Printf("scale: recover: ok: serving again %.1fs after Redis came back\n", time.Since(start).Seconds())
			return nil
		}
		time.Sleep(200 * time.Millisecond) // waiting for the replicas' probes and HAProxy's health checks
	}
	return fmt.Errorf("not serving %v after Redis came back: %v", timeout, last)
}

// authfail: wrong keys from one address are counted across replicas: the
// address is refused (429) after the shared burst, not after 3 bursts.
func authfail(c *mcpClient, burst int) error {
	bad := &mcpClient{url: c.url, key: "moat_wrong"}
	for i := range 3 * burst {
		r, err := bad.do("POST", "", initBody)
		if err != nil {
			return err
		}
		switch r.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			if i < burst {
				return fmt.Errorf("refused after %d failures; want %d", i, burst)
			}
			fmt.Printf("scale: authfail: ok: address refused after %d failed authentications across replicas (burst %d)\n", i, burst)
			return nil
		default:
			return fmt.Errorf("wrong key: HTTP %d", r.status)
		}
	}
	return fmt.Errorf("%d failed authentications and no refusal: failures are not counted across replicas", 3*burst)
}

// mrtrTool is the fixture that asks one question
// (testdata/conformance/fixtures, test_input_required_result_elicitation).
const mrtrTool = "test_input_required_result_elicitation"

// mrtrCall is one 2026-07-28 tools/call of mrtrTool; extra is more
// params (inputResponses, requestState).
func mrtrCall(c *mcpClient, id int, extra string) (*reply, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}%s,`+
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"scale","version":"0"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}}}`, id, mrtrTool, extra)
	return c.doWith("POST", "", body, map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Name": mrtrTool})
}

// mrtr: a multi-round-trip call started on one replica completes on
// another (the replicas share [request_state]'s key), and its
// requestState, once used, is refused on the third (the nonce record is
// in the shared Redis).
func mrtr(key string, replicas []string) error {
	if len(replicas) < 3 {
		return fmt.Errorf("need three replicas, got %d", len(replicas))
	}
	on := func(i int) *mcpClient { return &mcpClient{url: replicas[i] + "/mcp", key: key} }
	r, err := mrtrCall(on(0), 1, "")
	if err != nil {
		return err
	}
	res, _ := r.msg["result"].(map[string]any)
	state, _ := res["requestState"].(string)
	if r.status != 200 || res["resultType"] != "input_required" || state == "" {
		return fmt.Errorf("round 1 on %s: HTTP %d %s", replicas[0], r.status, trim(r.body))
	}
	answer := fmt.Sprintf(`,"inputResponses":{"user_name":{"action":"accept","content":{"name":"Alice"}}},"requestState":%q`, state)
	r, err = mrtrCall(on(1), 2, answer)
	if err != nil {
		return err
	}
	res, _ = r.msg["result"].(map[string]any)
	if r.status != 200 || res["resultType"] != "complete" || !strings.Contains(r.body, "Hello, Alice!") {
		return fmt.Errorf("round 2 on %s: HTTP %d %s", replicas[1], r.status, trim(r.body))
	}
	r, err = mrtrCall(on(2), 3, answer)
	if err != nil {
		return err
	}
	e, _ := r.msg["error"].(map[string]any)
	if msg, _ := e["message"].(string); e == nil || e["code"] != float64(-32602) || !strings.Contains(msg, "already used") {
		return fmt.Errorf("the used requestState on %s: HTTP %d %s", replicas[2], r.status, trim(r.body))
	}
	fmt.Println("scale: mrtr: ok: input_required on r1, completed on r2, the used requestState refused on r3")
	return nil
}
