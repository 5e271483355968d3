package fleet_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update/fleet"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestMasterFirst: the seed's rule. An apply to slaves of a version newer than the
// master's own is refused (master_first) unless forced; the master applies an update
// to itself, selected as "master", before the slaves of the same operation.
func TestMasterFirst(t *testing.T) {
	d := newDomain(t).withEngine()
	ctx := context.Background()
	d.newSlave("s1", slaveOpts{})
	d.waitServers("s1")
	if _, err := d.client.AddUpdate(ctx, "v2", d.pack("app", "2.0.0", map[string]string{"index.html": "v2"}), "", "", nil); err != nil {
		t.Fatal(err)
	}
	var ae *fleet.APIError
	_, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", Servers: []string{"s1"}})
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Code != fleet.CodeMasterFirst || !strings.Contains(ae.Message, "the master is updated first") {
		t.Fatalf("apply to a slave before the master: %v", err)
	}
	// Propagating is not applying: it stays allowed.
	rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindPropagate, Update: "v2", Servers: []string{"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	d.wait(rep)
	rep, err = d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: "v2", Servers: []string{"s1"}, Force: true})
	if err != nil {
		t.Fatalf("forced: %v", err)
	}
	if got := states(d.wait(rep)); got != "s1=installed@2.0.0" {
		t.Fatalf("forced apply: %s", got)
	}

	// The master first, then the slave, in one operation.
	if _, err := d.client.AddUpdate(ctx, "v3", d.pack("app", "3.0.0", map[string]string{"index.html": "v3"}), "", "", nil); err != nil {
		t.Fatal(err)
	}
	rep, err = d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: "v3", Servers: []string{"s1", "master"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := states(d.wait(rep)); got != "master=installed@3.0.0 s1=installed@3.0.0" {
		t.Fatalf("apply to master and s1: %s", got)
	}
	if got := updatetest.ReadTree(t, filepath.Join(d.dir, "mapp")); got["index.html"] != "v3" {
		t.Fatalf("the master's own tree: %v", got)
	}
	evs, _ := d.client.Events(ctx, rep.ID)
	var order []string
	for _, ev := range evs {
		if ev.Kind == "installed" || ev.Kind == "delivered" {
			order = append(order, ev.Server+":"+ev.Kind)
		}
	}
	if got := strings.Join(order, " "); !strings.HasPrefix(got, "master:installed s1:delivered") {
		t.Fatalf("the slave was released before the master installed: %s", got)
	}
	// Now the master runs 3.0.0, applying it to a slave needs no force.
	servers, _ := d.client.Servers(ctx)
	if servers[0].Name != "master" || servers[0].Versions["app"] != "3.0.0" {
		t.Fatalf("servers: %+v", servers[0])
	}
}

// TestDeadMailboxSlaveNotFresh: a mailbox slave that dies during its long poll is
// late (not reachable) at once, not after two intervals; one that polls is fresh.
func TestDeadMailboxSlaveNotFresh(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	s := d.newSlave("mb", slaveOpts{interval: 30 * time.Second})
	contact := func() fleet.ServerView {
		servers, err := d.client.Servers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range servers {
			if v.Name == "mb" {
				return v
			}
		}
		return fleet.ServerView{}
	}
	deadline := time.Now().Add(20 * time.Second)
	for v := contact(); v.Contact != fleet.ContactFresh || !v.Reachable; v = contact() {
		if time.Now().After(deadline) {
			t.Fatalf("a polling slave: %+v", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// It enrolled and polls: its long poll (30 s) is open within a moment.
	time.Sleep(2 * time.Second)
	s.stop()
	deadline = time.Now().Add(5 * time.Second)
	for v := contact(); v.Contact != fleet.ContactLate || v.Reachable; v = contact() {
		if time.Now().After(deadline) {
			t.Fatalf("5 s after its death during a long poll: %+v", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := contact(); got.Role != fleet.RoleSlave {
		t.Fatalf("%+v", got)
	}
}
