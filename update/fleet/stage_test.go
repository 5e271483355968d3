package fleet_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/fleet"
)

// TestSlaveStagesThroughEngine: the master is the source of the slave's engine,
// which downloads, verifies and keeps the pack (its download status says so); with a
// mirror, the pack's bytes come from the mirror and a cut transfer resumes where it
// stopped.
func TestSlaveStagesThroughEngine(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	s := d.newSlave("s1", slaveOpts{})
	other := d.newSlave("s2", slaveOpts{})
	d.waitServers("s1", "s2")

	packFile := d.pack("app", "2.0.0", map[string]string{"index.html": "v2", "big.bin": strings.Repeat("0123456789abcdef", 64<<10)})
	if _, err := d.client.AddUpdate(ctx, "v2", packFile, "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", Servers: []string{"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "s1=staged" {
		t.Fatalf("propagate: %s", got)
	}
	st, err := s.eng.ModuleStatus(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if st.Download == nil || st.Download.State != update.DownloadVerified || st.Download.Version != "2.0.0" {
		t.Fatalf("the slave's engine did not download and verify the pack: %+v", st.Download)
	}

	// The master's files of an operation are its servers' only.
	req, _ := http.NewRequest(http.MethodGet, d.url+"/fleet/v1/files/"+rep.ID+"/"+filepath.Base(packFile), nil)
	req.Header.Set("X-Upkeep-Server", "s2")
	req.Header.Set("Authorization", "Bearer "+other.secret(t))
	resp, err := d.client.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another server's operation files: %d", resp.StatusCode)
	}

	// With a mirror that cuts its first answer short, the engine resumes with a
	// Range request.
	packFile3 := d.pack("app", "3.0.0", map[string]string{"index.html": "v3", "big.bin": strings.Repeat("fedcba9876543210", 64<<10)})
	b, err := os.ReadFile(packFile3)
	if err != nil {
		t.Fatal(err)
	}
	var gets, ranged atomic.Int64
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/packs/"+filepath.Base(packFile3) {
			http.NotFound(w, r)
			return
		}
		if gets.Add(1) == 1 {
			// Announce the whole pack, send half, and cut the connection.
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		if r.Header.Get("Range") != "" {
			ranged.Add(1)
		}
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(b)))
	}))
	defer mirror.Close()
	if _, err := d.client.AddUpdate(ctx, "v3", packFile3, "", mirror.URL+"/packs/"+filepath.Base(packFile3), nil); err != nil {
		t.Fatal(err)
	}
	rep, err = d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: "v3", Servers: []string{"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "s1=installed@3.0.0" {
		t.Fatalf("apply through the mirror: %s", got)
	}
	if gets.Load() < 2 || ranged.Load() == 0 {
		t.Fatalf("the cut download was not resumed with a Range request: %d requests, %d ranged", gets.Load(), ranged.Load())
	}
}
