package fleet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update/fleet"
)

// enrolRaw enrols name as an attacker holding the shared enrolment token would,
// returning the status, the error code and the secret.
func (d *domain) enrolRaw(name, pushURL string) (int, string, string) {
	d.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "mode": "push", "url": pushURL, "token": enrolToken, "versions": map[string]string{}})
	req, _ := http.NewRequest(http.MethodPost, d.url+"/fleet/v1/enrol", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+enrolToken)
	resp, err := d.client.HTTP.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Secret string `json:"secret"`
		Code   string `json:"code"`
	}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.Code, out.Secret
}

// slaveSecret reads the secret a slave keeps in its state dir.
func (s *slave) secret(t testing.TB) string {
	t.Helper()
	// The slave writes it once the master has answered its enrolment.
	var b []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err = os.ReadFile(filepath.Join(s.dir, "state", "fleet", "slave.json")); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Secret == "" {
		t.Fatalf("slave.json of %s: %s %v", s.name, b, err)
	}
	return st.Secret
}

// postAs sends a slave's request with name and secret.
func (d *domain) postAs(name, secret, path string, in any) (int, string) {
	d.t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, d.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Upkeep-Server", name)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := d.client.HTTP.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Code string `json:"code"`
	}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.Code
}

// TestEnrolUnderTakenNameRefused: the shared enrolment token does not let one server
// take another's name; only the admin's rekey lets the next enrolment replace it.
func TestEnrolUnderTakenNameRefused(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	victim := d.newSlave("victim", slaveOpts{})
	d.waitServers("victim")
	victimSecret := victim.secret(t)
	victim.stop()
	before, err := d.store.Server(ctx, "victim")
	if err != nil {
		t.Fatal(err)
	}

	if status, code, _ := d.enrolRaw("victim", "http://169.254.169.254/latest"); status != http.StatusConflict || code != "name_taken" {
		t.Fatalf("enrolment under a taken name: %d %q", status, code)
	}
	after, err := d.store.Server(ctx, "victim")
	if err != nil {
		t.Fatal(err)
	}
	if after.SecretHash != before.SecretHash || after.URL != before.URL || after.Mode != before.Mode {
		t.Fatalf("a refused enrolment changed the record: %+v → %+v", before, after)
	}
	if status, _ := d.postAs("victim", victimSecret, "/fleet/v1/poll", map[string]any{}); status != http.StatusOK {
		t.Fatalf("the victim's own secret: %d", status)
	}

	// A push URL must be http(s), whatever the name.
	for _, bad := range []string{"file:///etc/passwd", "gopher://127.0.0.1:70/", "http://user:pw@127.0.0.1:1/", "http:///nohost"} {
		if status, code, _ := d.enrolRaw("newcomer", bad); status != http.StatusBadRequest || code != "bad_request" {
			t.Errorf("push URL %q: %d %q", bad, status, code)
		}
	}

	// The admin allows a new enrolment: the next one replaces the secret (and may
	// set the push URL), the one after that is refused again.
	if err := d.client.Rekey(ctx, "victim"); err != nil {
		t.Fatal(err)
	}
	var ae *fleet.APIError
	if err := d.client.Rekey(ctx, "nobody"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("rekey of an unknown server: %v", err)
	}
	status, _, secret := d.enrolRaw("victim", "http://127.0.0.1:9/")
	if status != http.StatusOK || secret == "" {
		t.Fatalf("enrolment after a rekey: %d", status)
	}
	if status, code, _ := d.enrolRaw("victim", "http://127.0.0.1:10/"); status != http.StatusConflict || code != "name_taken" {
		t.Fatalf("second enrolment after one rekey: %d %q", status, code)
	}
	if rec, _ := d.store.Server(ctx, "victim"); rec.URL != "http://127.0.0.1:9/" {
		t.Fatalf("push URL %q", rec.URL)
	}
	if status, _ := d.postAs("victim", victimSecret, "/fleet/v1/poll", map[string]any{}); status != http.StatusUnauthorized {
		t.Fatalf("the replaced secret still works: %d", status)
	}
	if status, _ := d.postAs("victim", secret, "/fleet/v1/poll", map[string]any{}); status != http.StatusOK {
		t.Fatalf("the new secret: %d", status)
	}
}

// TestEnrolTokenBeforeBody: the enrolment token travels in the Authorization header
// and is checked before the body is read.
func TestEnrolTokenBeforeBody(t *testing.T) {
	d := newDomain(t)
	body := strings.NewReader(`{"name":"x","mode":"mailbox","token":"` + enrolToken + `"}`)
	req, _ := http.NewRequest(http.MethodPost, d.url+"/fleet/v1/enrol", body)
	resp, err := d.client.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("enrolment without the token in its header: %d", resp.StatusCode)
	}
}

// TestEventsOnlyForOwnTasks: a slave's reports and events count only for its own
// tasks, whatever operation it names.
func TestEventsOnlyForOwnTasks(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	d.newSlave("a", slaveOpts{})
	b := d.newSlave("b", slaveOpts{})
	d.waitServers("a", "b")
	bSecret := b.secret(t)
	b.stop()
	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2"})
	if _, err := d.client.AddUpdate(ctx, "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", Servers: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"started", "installed"} {
		ev := map[string]any{"events": []map[string]any{{"operation": rep.ID, "kind": kind, "module": "app", "version": "2.0.0"}}}
		if status, code := d.postAs("b", bSecret, "/fleet/v1/events", ev); status != http.StatusForbidden || code != "forbidden" {
			t.Errorf("event %s of b in a's operation: %d %q", kind, status, code)
		}
	}
	d.wait(rep)
	evs, err := d.client.Events(ctx, rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Server == "b" {
			t.Fatalf("b wrote into a's operation: %+v", ev)
		}
	}
}

// TestMaxConnsPerClientConfig: the configuration's max_conns_per_client is read and
// checked.
func TestMaxConnsPerClientConfig(t *testing.T) {
	base := `{"role":"master","listen":"127.0.0.1:0","store":"sqlite:x.db","enrol_token_file":"e","admin_token_file":"a"`
	c, err := fleet.ParseConfig([]byte(base+`,"max_conns_per_client":2000}`), t.TempDir())
	if err != nil || c.MaxConnsPerClient != 2000 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := fleet.ParseConfig([]byte(base+`,"max_conns_per_client":-5}`), t.TempDir()); err == nil || !strings.Contains(err.Error(), "fleet.max_conns_per_client") {
		t.Fatalf("a negative bound: %v", err)
	}
}
