package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Errors of one raw call.
var (
	errStatus     = errors.New("bench: unexpected HTTP status")
	errNoResult   = errors.New("bench: answer without a result")
	errToolError  = errors.New("bench: the tool answered an error")
	errNoSession  = errors.New("bench: initialize answered without Mcp-Session-Id")
	maxAnswerSize = int64(1 << 20)
)

// rawCaller is one keep-alive HTTP/1.1 connection on which it writes
// each call as prepared bytes and reads the answer with
// http.ReadResponse: no client-side pools, goroutines or MCP library.
type rawCaller struct {
	conn    net.Conn
	br      *bufio.Reader
	host    string
	load    Load
	session string
	id      int64
	req     []byte // reused request buffer
	body    bytes.Buffer
}

func dialRaw(ctx context.Context, load Load) (*rawCaller, error) {
	u, err := url.Parse(load.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: url %q must be http://host:port", ErrBadSpec, load.URL)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s: %w", u.Host, err)
	}
	c := &rawCaller{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), host: u.Host, load: load}
	if load.Era == Session {
		if err := c.initialize(ctx); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return c, nil
}

// initialize opens an MCP 2025-11-25 session on the connection.
func (c *rawCaller) initialize(ctx context.Context) error {
	body := []byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + string(Session) +
		`","capabilities":{},"clientInfo":{"name":"moat-bench","version":"1"}}}`)
	resp, err := c.roundTrip(ctx, "POST", body, false, false)
	if err != nil {
		return fmt.Errorf("bench: initialize: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: initialize: %w %d", errStatus, resp.StatusCode)
	}
	c.session = resp.Header.Get("Mcp-Session-Id")
	if c.session == "" {
		return errNoSession
	}
	resp, err = c.roundTrip(ctx, "POST", []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), true, false)
	if err != nil {
		return fmt.Errorf("bench: notifications/initialized: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("bench: notifications/initialized: %w %d", errStatus, resp.StatusCode)
	}
	return nil
}

// callBody is the JSON-RPC tools/call request with the given id. In the
// stateless era the request carries the protocol version and client
// identity in _meta, as 2026-07-28 requires of every request.
func (c *rawCaller) callBody(b []byte, id int64) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"method":"tools/call","params":{"name":`...)
	b = strconv.AppendQuote(b, c.load.Tool)
	b = append(b, `,"arguments":`...)
	b = append(b, Args...)
	if c.load.Era == Stateless {
		b = append(b, `,"_meta":{"io.modelcontextprotocol/protocolVersion":"`...)
		b = append(b, Stateless...)
		b = append(b, `","io.modelcontextprotocol/clientInfo":{"name":"moat-bench","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`...)
	}
	return append(b, "}}"...)
}

func (c *rawCaller) call(ctx context.Context) error {
	c.id++
	body := c.callBody(nil, c.id)
	resp, err := c.roundTrip(ctx, "POST", body, true, true)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w %d", errStatus, resp.StatusCode)
	}
	return checkAnswer(c.body.Bytes())
}

// checkAnswer accepts a JSON or server-sent-events answer that holds a
// result that is not a tool error. It looks for the fields' text rather
// than decoding: the echo's own text is a JSON string, in which quotes
// are escaped, so it cannot fake them.
func checkAnswer(b []byte) error {
	if !bytes.Contains(b, []byte(`"result":`)) {
		return errNoResult
	}
	if bytes.Contains(b, []byte(`"isError":true`)) {
		return errToolError
	}
	return nil
}

// roundTrip writes one request and reads its whole answer into c.body.
// withVersion adds Mcp-Protocol-Version, isCall the standard headers a
// 2026-07-28 tools/call carries (Mcp-Method, Mcp-Name).
func (c *rawCaller) roundTrip(ctx context.Context, method string, body []byte, withVersion, isCall bool) (*http.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(dl)
	} else {
		_ = c.conn.SetDeadline(time.Now().Add(time.Minute))
	}
	b := c.req[:0]
	b = append(b, method...)
	b = append(b, " /mcp HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"...)
	if withVersion {
		b = append(b, "Mcp-Protocol-Version: "...)
		b = append(b, c.load.Era...)
		b = append(b, "\r\n"...)
	}
	if isCall && c.load.Era == Stateless {
		b = append(b, "Mcp-Method: tools/call\r\nMcp-Name: "...)
		b = append(b, c.load.Tool...)
		b = append(b, "\r\n"...)
	}
	if c.session != "" {
		b = append(b, "Mcp-Session-Id: "...)
		b = append(b, c.session...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.req = b
	if _, err := c.conn.Write(b); err != nil {
		return nil, fmt.Errorf("bench: write request: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: read answer: %w", err)
	}
	c.body.Reset()
	_, err = c.body.ReadFrom(io.LimitReader(resp.Body, maxAnswerSize))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("bench: read answer body: %w", err)
	}
	return resp, nil
}

func (c *rawCaller) close() {
	if c.session != "" {
		_, _ = c.roundTrip(context.Background(), "DELETE", nil, true, false)
	}
	c.conn.Close()
}
