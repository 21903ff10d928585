package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearerTransport adds an Authorization header to every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestGoSDKSeesPrincipal runs a real go-sdk streamable server behind
// Middleware: a tool handler finds the caller in req.Extra.TokenInfo, and a
// session opened by one principal can't be used by another.
func TestGoSDKSeesPrincipal(t *testing.T) {
	f := newFixture(t, nil)
	server := mcp.NewServer(&mcp.Implementation{Name: "authtest", Version: "0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		p, ok := FromTokenInfo(req.Extra.TokenInfo)
		if !ok {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "no principal"}}}, nil, nil
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: p.ID + " " + p.Method}}}, nil, nil
	})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	srv := httptest.NewServer(f.a.Middleware(handler))
	defer srv.Close()

	jwtToken := mint(t, signingKeys(t).rsa, jose.RS256, "rsa1", claims(f.now))
	for _, tc := range []struct{ name, token, want string }{
		{"api key", f.secret, "k1 api_key"},
		{"jwt", jwtToken, "jwt:alice jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil)
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
				Endpoint:             srv.URL,
				HTTPClient:           &http.Client{Transport: bearerTransport{tc.token}},
				DisableStandaloneSSE: true,
				MaxRetries:           -1,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Content[0].(*mcp.TextContent).Text; res.IsError || got != tc.want {
				t.Errorf("whoami = %q (isError %v), want %q", got, res.IsError, tc.want)
			}

			// Reuse the session id with the other principal's credential.
			other := f.secret
			if tc.token == f.secret {
				other = jwtToken
			}
			body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
			r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json, text/event-stream")
			r.Header.Set("Mcp-Session-Id", cs.ID())
			r.Header.Set("Mcp-Protocol-Version", "2025-11-25")
			r.Header.Set("Authorization", "Bearer "+other)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("session hijack by another principal: status %d, want 403", resp.StatusCode)
			}
		})
	}
}
