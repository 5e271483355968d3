//go:build unix

package fleet_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/fleet"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

const slaveProcEnv = "UPKEEP_FLEET_SLAVE_PROCESS" // the JSON file of slaveProc

// slaveProc is what a slave process runs with.
type slaveProc struct {
	Master  string `json:"master"`
	Name    string `json:"name"`
	Dir     string `json:"dir"`
	PubFile string `json:"pub_file"`
	Source  string `json:"source"`
}

// TestSlaveProcess is the slave process of TestSlaveKilledDuringApply; it does
// nothing unless that test starts it.
func TestSlaveProcess(t *testing.T) {
	file := os.Getenv(slaveProcEnv)
	if file == "" {
		t.Skip("the slave process of TestSlaveKilledDuringApply")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p slaveProc
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	eng, err := update.New(update.Config{Source: p.Source, Keys: []string{p.PubFile}, StateDir: filepath.Join(p.Dir, "state"),
		Modules: []update.ModuleConfig{{Name: "app", Path: filepath.Join(p.Dir, "app"), Scripts: filepath.Join(p.Dir, "scripts")}}}, updatetest.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &fleet.Config{Role: fleet.RoleSlave, Master: p.Master, Name: p.Name, Mode: fleet.ModeMailbox, PollInterval: fleet.Duration(time.Second),
		EnrolTokenFile: filepath.Join(p.Dir, "enrol.token")}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := fleet.NewSlave(cfg, eng, fleet.SlaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	s.Run(ctx)
}

// TestSlaveKilledDuringApply: a slave process killed (SIGKILL) while its engine
// installs recovers at its restart (its engine's Recover puts the previous version
// back) and the report says so: failed with code interrupted, the old version in
// place. The next apply installs.
func TestSlaveKilledDuringApply(t *testing.T) {
	d := newDomain(t)
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "scripts"), 0o755)
	block, reached := filepath.Join(dir, "block"), filepath.Join(dir, "reached")
	// PREINSTALL blocks while the block file exists, once it has said so.
	writeFile(t, filepath.Join(dir, "scripts", "PREINSTALL_app.sh"),
		"#!/bin/sh\nif [ -f '"+block+"' ]; then touch '"+reached+"'; exec sleep 30; fi\n")
	os.Chmod(filepath.Join(dir, "scripts", "PREINSTALL_app.sh"), 0o755)
	writeFile(t, filepath.Join(dir, "enrol.token"), enrolToken)
	b, _ := json.Marshal(slaveProc{Master: d.url, Name: "victim", Dir: dir, PubFile: d.repo.PubFile, Source: d.repo.Dir})
	cfgFile := writeFile(t, filepath.Join(dir, "proc.json"), string(b))
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSlaveProcess$")
		cmd.Env = append(os.Environ(), slaveProcEnv+"="+cfgFile)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	apply := func(name string) *fleet.Report {
		rep, err := d.client.Start(ctx, fleet.OperationRequest{Kind: fleet.KindApply, Update: name, Servers: []string{"victim"}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	proc := start()
	d.waitServers("victim")
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		if _, err := d.client.AddUpdate(ctx, v, d.pack("app", v, map[string]string{"version.txt": v}), "", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := states(d.wait(apply("1.0.0"))); got != "victim=installed@1.0.0" {
		t.Fatalf("first apply: %s", got)
	}

	writeFile(t, block, "")
	rep := apply("2.0.0")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(reached); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the install never reached its PREINSTALL hook")
		}
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	if r, _ := d.client.Operation(ctx, rep.ID); states(r) != "victim=installing" {
		t.Fatalf("while the slave is down: %s", states(r))
	}
	os.Remove(block)
	start()
	rep = d.wait(rep)
	s := rep.Servers[0]
	if s.State != fleet.StateFailed || s.Code != fleet.CodeInterrupted || s.Version != "1.0.0" {
		t.Fatalf("after the restart: %+v", s)
	}
	t.Logf("reported: %s", s.Reason)
	if tree := updatetest.ReadTree(t, filepath.Join(dir, "app")); tree["version.txt"] != "1.0.0" {
		t.Fatalf("the tree after recovery: %v", tree)
	}
	if got := states(d.wait(apply("3.0.0"))); got != "victim=installed@3.0.0" {
		t.Fatalf("apply after the recovery: %s", got)
	}
}
