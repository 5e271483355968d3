package fleet

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/signature"
)

// HTTPClient returns a client for a master at masterURL: https pinned to the
// certificates of caFile when given (only they are trusted, not the system's roots),
// plain http for a loopback master only.
func HTTPClient(masterURL, caFile string) (*http.Client, error) {
	if err := checkMasterURL(masterURL); err != nil {
		return nil, fmt.Errorf("fleet: master: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 4
	// Sessions resume: after a master's restart, its slaves reconnect without a full
	// handshake each.
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	if caFile != "" {
		pem, err := limited.ReadFile(caFile, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("fleet: master_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("fleet: master_ca_file %s: no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr}, nil
}

// APIError is an error answer of the master: its HTTP status, stable code and message.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Message }

func readAPIError(resp *http.Response) error {
	var body struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) != nil || body.Error == "" {
		body.Error = fmt.Sprintf("fleet: master answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return &APIError{Status: resp.StatusCode, Code: body.Code, Message: body.Error}
}

// Client is an admin's client of a master's API (the `upkeep fleet` commands).
type Client struct {
	URL   string // the master's base URL
	Token string // the admin token
	HTTP  *http.Client
}

// NewClient returns an admin client for the master at masterURL.
func NewClient(masterURL, token, caFile string) (*Client, error) {
	hc, err := HTTPClient(masterURL, caFile)
	if err != nil {
		return nil, err
	}
	return &Client{URL: strings.TrimSuffix(masterURL, "/"), Token: token, HTTP: hc}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, hdr http.Header, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("fleet: master %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readAPIError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("fleet: master %s%s: %w", c.URL, path, err)
	}
	return nil
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}}, out)
}

// AddUpdate uploads a pack and its signature (sigFile "" means packFile.minisig)
// under name, streaming it; progress, if set, is called as bytes go out. mirror, if
// set, is a URL serving the same bytes that slaves fetch instead of the master.
func (c *Client) AddUpdate(ctx context.Context, name, packFile, sigFile, mirror string, progress func(done, total int64)) (*Update, error) {
	if sigFile == "" {
		sigFile = packFile + ".minisig"
	}
	sig, err := limited.ReadFile(sigFile, signature.MaxSignatureFileSize)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(packFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	q := url.Values{"name": {name}, "file": {filepath.Base(packFile)}}
	if mirror != "" {
		q.Set("mirror", mirror)
	}
	var body io.Reader = f
	if progress != nil {
		body = &progressReader{r: f, total: fi.Size(), f: progress}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.URL+"/fleet/v1/admin/updates?"+q.Encode(), body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/zip")
	req.Header.Set("X-Upkeep-Signature", base64.StdEncoding.EncodeToString(sig))
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fleet: master %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, readAPIError(resp)
	}
	var u Update
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&u); err != nil {
		return nil, err
	}
	return &u, nil
}

type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	f     func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.f(p.done, p.total)
	return n, err
}

// Start starts a propagate or an apply and returns its first report.
func (c *Client) Start(ctx context.Context, req OperationRequest) (*Report, error) {
	var rep Report
	if err := c.postJSON(ctx, "/fleet/v1/admin/operations", req, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Operation returns an operation's report.
func (c *Client) Operation(ctx context.Context, id string) (*Report, error) {
	var rep Report
	if err := c.do(ctx, http.MethodGet, "/fleet/v1/admin/operations/"+url.PathEscape(id), nil, nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Done reports whether no server of the report has anything left to do: each is
// final, or unreachable.
func (r *Report) Done() bool {
	if r.Ended != nil {
		return true
	}
	for _, s := range r.Servers {
		if !final(r.Kind, s.State) && s.State != StateUnreachable {
			return false
		}
	}
	return true
}

// Failed reports whether a server of the report failed or could not be reached.
func (r *Report) Failed() bool {
	for _, s := range r.Servers {
		if s.State == StateFailed || s.State == StateUnreachable {
			return true
		}
	}
	return false
}

// Wait polls an operation's report every interval until it is Done or ctx ends.
func (c *Client) Wait(ctx context.Context, id string, interval time.Duration) (*Report, error) {
	for {
		rep, err := c.Operation(ctx, id)
		if err != nil || rep.Done() {
			return rep, err
		}
		select {
		case <-ctx.Done():
			return rep, context.Cause(ctx)
		case <-time.After(interval):
		}
	}
}

// Operations returns the operations log, newest first.
func (c *Client) Operations(ctx context.Context) ([]Report, error) {
	var out struct {
		Operations []Report `json:"operations"`
	}
	err := c.do(ctx, http.MethodGet, "/fleet/v1/admin/operations", nil, nil, &out)
	return out.Operations, err
}

// Servers returns the servers list.
func (c *Client) Servers(ctx context.Context) ([]ServerView, error) {
	var out struct {
		Servers []ServerView `json:"servers"`
	}
	err := c.do(ctx, http.MethodGet, "/fleet/v1/admin/servers", nil, nil, &out)
	return out.Servers, err
}

// Converged says whether every server runs the newest version of module.
func (c *Client) Converged(ctx context.Context, module string) (*Convergence, error) {
	var out Convergence
	if err := c.do(ctx, http.MethodGet, "/fleet/v1/admin/converged?module="+url.QueryEscape(module), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Events returns the events of an operation ("" for all), oldest first.
func (c *Client) Events(ctx context.Context, op string) ([]Event, error) {
	var out struct {
		Events []Event `json:"events"`
	}
	err := c.do(ctx, http.MethodGet, "/fleet/v1/admin/events?operation="+url.QueryEscape(op), nil, nil, &out)
	return out.Events, err
}

// Rekey lets the next enrolment under a slave's name replace its secret (and its push
// URL): until then an enrolment under an enrolled name is refused with name_taken.
func (c *Client) Rekey(ctx context.Context, name string) error {
	return c.postJSON(ctx, "/fleet/v1/admin/servers/"+url.PathEscape(name)+"/rekey", struct{}{}, nil)
}
