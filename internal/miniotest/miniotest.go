// Package miniotest runs a real MinIO server for tests: on 127.0.0.1 only,
// on a free port, with a temporary data directory and random credentials.
// The binary comes from scripts/minio.sh install (which finds it or runs
// `go install github.com/minio/minio@latest`). Without MinIO a test fails
// when CI is set and is skipped, saying why, otherwise.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/thanos-io/objstore"
)

// Server is a running MinIO.
type Server struct {
	// URL is http://127.0.0.1:PORT; Host is 127.0.0.1:PORT.
	URL, Host string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Dir is the data directory.
	Dir string

	bin  string
	log  *os.File
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of a minio binary, installing it if needed.
func Binary() (string, error) {
	binOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			binErr = err
			return
		}
		cmd := exec.Command(filepath.Join(root, "scripts", "minio.sh"), "install")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("scripts/minio.sh install: %w\n%s", err, stderr.String())
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	return binPath, binErr
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/opsdata/opsdata\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("miniotest: no opsdata go.mod above the working directory")
		}
		dir = parent
	}
}

// Start starts a MinIO server that is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("MinIO is required under CI (.ci/run installs it): %v", err)
		}
		t.Skipf("MinIO unavailable and could not be installed (run scripts/minio.sh install): %v", err)
	}
	s := &Server{bin: bin, Dir: t.TempDir(), AccessKey: "opsdata-" + randHex(6), SecretKey: randHex(18)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Host = l.Addr().String()
	l.Close()
	s.URL = "http://" + s.Host
	if s.log, err = os.Create(filepath.Join(t.TempDir(), "minio.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(); s.log.Close() })
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("minio already running")
	}
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.Host, "--console-address", "127.0.0.1:0", s.Dir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey, "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			s.cmd = nil
			log, _ := os.ReadFile(s.log.Name())
			return fmt.Errorf("minio exited during start-up:\n%s", log)
		default:
		}
		resp, err := probe.Get(s.URL + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("minio not ready on %s after 30s; log %s", s.URL, s.log.Name())
}

// probe keeps no idle connections (goleak-clean).
var probe = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// Stop kills the server (as a crash or an outage would) and waits for it
// to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts a stopped server again on the same address and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Env is the environment that points opsdata at this server.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=us-east-1",
	}
}

// Getenv looks up Env (and nothing else), for bucket.WithGetenv.
func (s *Server) Getenv(k string) string {
	for _, kv := range s.Env() {
		if name, v, _ := strings.Cut(kv, "="); name == k {
			return v
		}
	}
	return ""
}

// Client is a minio-go client with the root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Host, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1",
		Transport: &http.Transport{DisableKeepAlives: true}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Open opens url (s3://BUCKET[/PREFIX]) on the server with the spec's s3
// settings c; the bucket is closed when the test ends.
func (s *Server) Open(t testing.TB, url string, c bucket.S3) objstore.Bucket {
	t.Helper()
	bkt, _, err := bucket.OpenBucket(context.Background(), url, bucket.WithS3(c), bucket.WithGetenv(s.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bkt.Close() })
	return bkt
}
