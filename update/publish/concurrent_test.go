package publish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
)

// childEnv carries a child publication's job (JSON) to TestPublishChildProcess.
const childEnv = "UPKEEP_PUBLISH_CHILD"

// childJob is one `upkeep publish` run, as a CI job per platform starts it.
type childJob struct {
	Repo, SecFile, Module, Version, Platform, From string
	Go                                             string // start when this file exists
}

// TestPublishChildProcess is not a test: it is the body of the child processes of
// TestPublishParallelProcesses, run by re-executing the test binary.
func TestPublishChildProcess(t *testing.T) {
	env := os.Getenv(childEnv)
	if env == "" {
		t.Skip("child process of TestPublishParallelProcesses")
	}
	var job childJob
	if err := json.Unmarshal([]byte(env), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	key := loadKey(job.SecFile)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(job.Go); err == nil {
			break
		} else if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "no start signal")
			os.Exit(3)
		}
	}
	m, err := publish.Publish(context.Background(), job.Repo, key, publish.Build{
		Module: job.Module, Version: job.Version, Platform: job.Platform, Dir: job.From,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(m.Serial)
	os.Exit(0)
}

func loadKey(file string) signature.PrivateKey {
	b, err := os.ReadFile(file)
	if err == nil {
		var k signature.PrivateKey
		if k, err = signature.ParsePrivateKey(b, ""); err == nil {
			return k
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(3)
	panic("unreachable")
}

// platforms are the four CI jobs of one release.
var platforms = []string{"linux/amd64", "linux/arm64", "windows/amd64", "darwin/arm64"}

// TestPublishParallelProcesses: four processes publish four platforms of one release
// into one repository at once, as one CI job per platform does. Every pack must be
// listed, each publication must get its own serial, and the manifest must verify with
// the signature beside it.
func TestPublishParallelProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub, sec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	secText, err := signature.MarshalPrivateKey(sec, "")
	require.NoError(t, err)
	secFile := filepath.Join(dir, "publisher.key")
	require.NoError(t, os.WriteFile(secFile, secText, 0o600))
	builds := make([]string, len(platforms))
	for i, p := range platforms {
		builds[i] = filepath.Join(dir, "build-"+strconv.Itoa(i))
		writeTree(t, builds[i], map[string]string{"app.txt": "app for " + p, "lib/data.bin": strings.Repeat(p, 4000)})
	}
	kr, err := signature.NewKeyring([]signature.PublicKey{pub})
	require.NoError(t, err)

	for round := range 3 {
		repo := filepath.Join(dir, "repo-"+strconv.Itoa(round))
		start := filepath.Join(dir, "go-"+strconv.Itoa(round))
		cmds := make([]*exec.Cmd, len(platforms))
		outs := make([]*bytes.Buffer, len(platforms))
		errs := make([]*bytes.Buffer, len(platforms))
		for i, p := range platforms {
			job, _ := json.Marshal(childJob{Repo: repo, SecFile: secFile, Module: "web", Version: "1.0.0", Platform: p, From: builds[i], Go: start})
			cmd := exec.Command(os.Args[0], "-test.run=^TestPublishChildProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+string(job))
			outs[i], errs[i] = new(bytes.Buffer), new(bytes.Buffer)
			cmd.Stdout, cmd.Stderr = outs[i], errs[i]
			require.NoError(t, cmd.Start())
			cmds[i] = cmd
		}
		require.NoError(t, os.WriteFile(start, nil, 0o644))
		var serials []uint64
		for i, cmd := range cmds {
			require.NoError(t, cmd.Wait(), "round %d, %s: %s", round, platforms[i], errs[i])
			line := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(outs[i].String()), "PASS"))
			n, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
			require.NoError(t, err, "round %d, %s printed %q", round, platforms[i], outs[i])
			serials = append(serials, n)
		}
		slices.Sort(serials)
		require.Equal(t, []uint64{1, 2, 3, 4}, serials, "round %d: each publication has a serial of its own", round)
		checkRepo(t, kr, repo, 4, "web", "1.0.0", platforms...)
	}
}

// TestPublishParallelInProcess: the same race between goroutines of one process.
func TestPublishParallelInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub, sec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	kr, err := signature.NewKeyring([]signature.PublicKey{pub})
	require.NoError(t, err)
	repo := filepath.Join(dir, "repo")
	var wg sync.WaitGroup
	serials := make([]uint64, len(platforms))
	errs := make([]error, len(platforms))
	for i, p := range platforms {
		build := filepath.Join(dir, "build-"+strconv.Itoa(i))
		writeTree(t, build, map[string]string{"app.txt": "app for " + p})
		wg.Go(func() {
			m, err := publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: "1.0.0", Platform: p, Dir: build})
			errs[i] = err
			if err == nil {
				serials[i] = m.Serial
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, platforms[i])
	}
	slices.Sort(serials)
	require.Equal(t, []uint64{1, 2, 3, 4}, serials)
	checkRepo(t, kr, repo, 4, "web", "1.0.0", platforms...)
}

// checkRepo verifies the repository's manifest with kr and checks its serial and that
// the release lists a pack for every platform, each present with its signature.
func checkRepo(t *testing.T, kr *signature.Keyring, repo string, serial uint64, module, version string, platforms ...string) *manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, manifest.FileName))
	require.NoError(t, err)
	sig, err := os.ReadFile(filepath.Join(repo, manifest.SignatureFileName))
	require.NoError(t, err)
	v, err := kr.Verify(manifest.FileName, sig, bytes.NewReader(data))
	require.NoError(t, err, "the manifest verifies with the signature beside it")
	m, err := manifest.Parse(data)
	require.NoError(t, err)
	require.Equal(t, serial, m.Serial)
	require.Equal(t, "file=manifest.json serial="+strconv.FormatUint(m.Serial, 10)+" product="+m.Product, v.Signers[0].TrustedComment,
		"the manifest's signature binds its file, serial and product")
	var got []string
	for _, r := range m.Releases {
		if r.Module != module || r.Version != version {
			continue
		}
		for _, p := range r.Packs {
			got = append(got, p.Platform)
			for _, name := range []string{p.File, p.SignatureFile()} {
				_, err := os.Stat(filepath.Join(repo, name))
				require.NoError(t, err, "%s is listed and must be there", name)
			}
		}
	}
	require.ElementsMatch(t, platforms, got, "every pack published is listed")
	ents, err := os.ReadDir(repo)
	require.NoError(t, err)
	for _, e := range ents {
		require.NotContains(t, e.Name(), ".tmp", "no temporary file is left behind")
		require.NotContains(t, e.Name(), ".new", "no temporary file is left behind")
	}
	return m
}

// writeTree writes files (name → content, "/"-separated) under dir.
func writeTree(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for name, content := range tree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// TestRefreshParallel: refreshes running at once each get a serial of their own, and
// the manifest left verifies.
func TestRefreshParallel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub, sec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	kr, err := signature.NewKeyring([]signature.PublicKey{pub})
	require.NoError(t, err)
	repo, build := filepath.Join(dir, "repo"), filepath.Join(dir, "build")
	writeTree(t, build, map[string]string{"app.txt": "app"})
	_, err = publish.Publish(t.Context(), repo, sec, publish.Build{Module: "web", Version: "1.0.0", Platform: "linux/amd64", Dir: build})
	require.NoError(t, err)
	var wg sync.WaitGroup
	serials := make([]uint64, 4)
	errs := make([]error, 4)
	for i := range serials {
		wg.Go(func() {
			m, err := publish.Refresh(t.Context(), repo, sec)
			errs[i] = err
			if err == nil {
				serials[i] = m.Serial
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	slices.Sort(serials)
	require.Equal(t, []uint64{2, 3, 4, 5}, serials)
	checkRepo(t, kr, repo, 5, "web", "1.0.0", "linux/amd64")
}
