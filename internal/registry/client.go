package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Options tune registry access. A nil *Options means all defaults.
type Options struct {
	// AllowTag accepts a reference by tag. Zero: only references by
	// digest are accepted (ErrTag), as moat serve requires.
	AllowTag bool
	// Timeout bounds one whole Push, Pull or Fetch. Zero: 5 minutes.
	Timeout time.Duration
	// HeaderTimeout bounds the wait for a registry to start answering one
	// request (dial, TLS, response headers): a registry that answers
	// slowly fails here. Zero: 30 seconds.
	HeaderTimeout time.Duration
	// ValidateManifest checks the bytes of the manifest layer (cmd/moat
	// passes one that parses them as a tool manifest). Zero: the layer is
	// only checked to be UTF-8 text without NUL bytes.
	ValidateManifest func(data []byte) error
	// Getenv reads MOAT_REGISTRY_*, DOCKER_CONFIG and HOME. Zero: os.Getenv.
	Getenv func(string) string
	// RoundTripper replaces the HTTP transport (tests). Zero: a transport
	// built from HeaderTimeout. The plain-http and redirect checks apply
	// either way.
	RoundTripper http.RoundTripper
}

func (o *Options) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return 5 * time.Minute
	}
	return o.Timeout
}

func (o *Options) getenv(k string) string {
	if o == nil || o.Getenv == nil {
		return os.Getenv(k)
	}
	return o.Getenv(k)
}

// Environment variables that carry registry credentials. They apply to the
// one registry named by EnvHost, so that a manifest naming another registry
// never receives them.
const (
	EnvHost     = "MOAT_REGISTRY_HOST"
	EnvUsername = "MOAT_REGISTRY_USERNAME"
	EnvPassword = "MOAT_REGISTRY_PASSWORD"
)

// repository returns an oras repository for ref with moat's transport
// rules: https except to loopback, no redirect to another host, deadlines,
// credentials from the environment or the Docker config.
func repository(ref Reference, o *Options) (*remote.Repository, error) {
	repo, err := remote.NewRepository(ref.Host + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrReference, ref, err)
	}
	repo.PlainHTTP = isLoopback(ref.Host)
	repo.MaxMetadataBytes = maxOCIManifest
	// Never delete another artifact's referrers index entries on our
	// behalf: pushing a signature only adds.
	repo.SkipReferrersGC = true
	cred, err := credentialFunc(ref.Host, o)
	if err != nil {
		return nil, err
	}
	header := 30 * time.Second
	if o != nil && o.HeaderTimeout > 0 {
		header = o.HeaderTimeout
	}
	var base http.RoundTripper
	if o != nil && o.RoundTripper != nil {
		base = o.RoundTripper
	} else {
		base = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: header}).DialContext,
			TLSHandshakeTimeout:   header,
			ResponseHeaderTimeout: header,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4,
			IdleConnTimeout:       30 * time.Second,
		}
	}
	repo.Client = &auth.Client{
		Client: &http.Client{
			Transport:     guard{base},
			CheckRedirect: sameHostRedirect,
		},
		Credential: cred,
		Cache:      auth.NewCache(),
	}
	return repo, nil
}

// guard refuses plain-http requests to hosts that are not on loopback: a
// token realm or a redirect must not downgrade a registry to http.
type guard struct{ next http.RoundTripper }

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && isLoopback(req.URL.Host)) {
		return nil, fmt.Errorf("%w: plain %s to %s (plain http is only for loopback registries)", ErrInsecure, req.URL.Scheme, req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// sameHostRedirect refuses a redirect to another host or scheme: blobs
// must come from the registry named in the reference, not from wherever it
// points.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return fmt.Errorf("%w: more than 3 redirects", ErrInsecure)
	}
	first := via[0].URL
	if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
		return fmt.Errorf("%w: redirect from %s to another host %s", ErrInsecure, first.Host, req.URL.Host)
	}
	return nil
}

// credentialFunc resolves the registry credentials for host: the
// MOAT_REGISTRY_* variables when MOAT_REGISTRY_HOST names host, else the
// `auths` of the Docker config file, else none. Credential helper programs
// (credsStore, credHelpers) are not run.
func credentialFunc(host string, o *Options) (auth.CredentialFunc, error) {
	user, pass, envHost := o.getenv(EnvUsername), o.getenv(EnvPassword), o.getenv(EnvHost)
	if user != "" || pass != "" {
		if envHost == "" {
			return nil, fmt.Errorf("%w: %s and %s are set but %s, the registry they are for, is not", ErrCredentials, EnvUsername, EnvPassword, EnvHost)
		}
		if envHost == host {
			return auth.StaticCredential(host, auth.Credential{Username: user, Password: pass}), nil
		}
	}
	path := dockerConfigPath(o)
	if path == "" {
		return auth.StaticCredential(host, auth.EmptyCredential), nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return auth.StaticCredential(host, auth.EmptyCredential), nil
	}
	store, err := credentials.NewFileStore(path)
	if err != nil {
		// The error names the file, never its content.
		return nil, fmt.Errorf("%w: cannot read the Docker config %s", ErrCredentials, path)
	}
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		if hostport != host {
			// A token realm on another host gets no registry password.
			return auth.EmptyCredential, nil
		}
		return store.Get(ctx, hostport)
	}, nil
}

// dockerConfigPath is $DOCKER_CONFIG/config.json, else
// $HOME/.docker/config.json, else "".
func dockerConfigPath(o *Options) string {
	if d := o.getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	if h := o.getenv("HOME"); h != "" {
		return filepath.Join(h, ".docker", "config.json")
	}
	return ""
}
