//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/schemas"
	"golang.org/x/net/html"
)

// chromium finds Debian's chromium through scripts/chromium.sh (which
// installs it when run as root). Under CI a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	out, err := exec.Command(filepath.Join(root, "scripts", "chromium.sh")).Output()
	p := strings.TrimSpace(string(out))
	if err != nil || p == "" {
		msg := "chromium not available (scripts/chromium.sh failed: " + errString(err) + "); install it with apt-get install -y chromium"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func errString(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return strings.TrimSpace(string(ee.Stderr))
	}
	if err != nil {
		return err.Error()
	}
	return "no path printed"
}

// runChromium runs headless Chromium with a throwaway profile and no
// network besides the URL it is given.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--no-first-run", "--no-default-browser-check", "--mute-audio",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestCatalogPageInChromium serves the published demo output on 127.0.0.1
// and loads the catalog pages in real headless Chromium: the rendered DOM
// shows the versions, tables, columns, labels and snippets the manifest
// holds, and a screenshot is not blank.
func TestCatalogPageInChromium(t *testing.T) {
	e := setup(t)
	bin := chromium(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(e.out))) // listens on 127.0.0.1
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server on %s, want 127.0.0.1", srv.URL)
	}
	var m schemas.Manifest
	mb, err := os.ReadFile(filepath.Join(e.versionDir(), schemas.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}

	t.Run("dataset page DOM", func(t *testing.T) {
		dom := runChromium(t, bin, "--dump-dom", srv.URL+"/demo-cluster/index.html")
		doc, err := html.Parse(bytes.NewReader(dom))
		if err != nil {
			t.Fatal(err)
		}
		if n := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "script" }); len(n) != 0 {
			t.Errorf("page has %d <script> elements; it must work without JavaScript", len(n))
		}
		if got := text(byID(t, doc, "latest")); got != e.version {
			t.Errorf("latest = %q, want %q", got, e.version)
		}
		rows := find(doc, func(n *html.Node) bool { return attr(n, "data-version") != "" })
		if len(rows) == 0 || attr(rows[0], "data-version") != e.version {
			t.Errorf("versions table rows %d, first %q; want the latest %s first", len(rows), attr(first(rows), "data-version"), e.version)
		}
		for name, tt := range m.Tables {
			sec := byID(t, doc, "table-"+name)
			cols := find(sec, func(n *html.Node) bool {
				return n.Type == html.ElementNode && n.Data == "tr" && n.Parent != nil && n.Parent.Data == "tbody"
			})
			if len(cols) != len(tt.Columns) || len(cols) == 0 {
				t.Errorf("table %s shows %d columns, manifest has %d", name, len(cols), len(tt.Columns))
			}
			rs := find(sec, func(n *html.Node) bool { return attr(n, "class") == "rows" })
			if len(rs) != 1 || text(rs[0]) != itoa(tt.Rows) {
				t.Errorf("table %s rows shown %q, manifest %d", name, text(first(rs)), tt.Rows)
			}
		}
		if got := text(byID(t, doc, "incidents")); got != itoa(m.Labels.Incidents) {
			t.Errorf("incidents shown %q, manifest %d", got, m.Labels.Incidents)
		}
		snips := find(doc, func(n *html.Node) bool { return attr(n, "class") == "snippet" })
		langs := map[string]string{}
		for _, s := range snips {
			langs[attr(s, "data-lang")] += text(s)
		}
		for _, want := range []string{"import pandas as pd", "read_parquet('", "import polars as pl", "opsdata pull"} {
			if !strings.Contains(langs["python"]+langs["sql"]+langs["sh"], want) {
				t.Errorf("snippets lack %q", want)
			}
		}
		if !strings.Contains(text(doc), m.Licence) {
			t.Errorf("page does not name the licence %s", m.Licence)
		}
	})

	t.Run("index DOM", func(t *testing.T) {
		dom := runChromium(t, bin, "--dump-dom", srv.URL+"/index.html")
		doc, err := html.Parse(bytes.NewReader(dom))
		if err != nil {
			t.Fatal(err)
		}
		rows := find(doc, func(n *html.Node) bool { return attr(n, "data-dataset") == "demo-cluster" })
		if len(rows) != 1 || !strings.Contains(text(rows[0]), e.version) {
			t.Fatalf("index row for demo-cluster: %d rows, text %q", len(rows), text(first(rows)))
		}
		links := find(rows[0], func(n *html.Node) bool { return n.Data == "a" && attr(n, "href") == "demo-cluster/index.html" })
		if len(links) != 1 {
			t.Error("index does not link to demo-cluster/index.html")
		}
	})

	t.Run("screenshot not blank", func(t *testing.T) {
		shot := filepath.Join(t.TempDir(), "page.png")
		runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars", srv.URL+"/demo-cluster/index.html")
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		colours, nonWhite := pixelStats(img)
		b := img.Bounds()
		t.Logf("screenshot %dx%d: %d distinct colours, %d non-white pixels", b.Dx(), b.Dy(), colours, nonWhite)
		if b.Dx() != 1280 || b.Dy() != 900 {
			t.Errorf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
		}
		// Text, the header bar and table borders give many colours and a
		// good share of non-white pixels; a blank or error page does not.
		if colours < 50 || nonWhite < b.Dx()*b.Dy()/20 {
			t.Errorf("screenshot looks blank: %d colours, %d non-white pixels", colours, nonWhite)
		}
	})
}

func pixelStats(img image.Image) (colours, nonWhite int) {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[(r>>8)<<16|(g>>8)<<8|bl>>8] = true
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				nonWhite++
			}
		}
	}
	return len(seen), nonWhite
}

func find(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n == nil {
		return nil
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func byID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	ns := find(doc, func(n *html.Node) bool { return attr(n, "id") == id })
	if len(ns) != 1 {
		t.Fatalf("want one element with id %q, found %d", id, len(ns))
	}
	return ns[0]
}

func first(ns []*html.Node) *html.Node {
	if len(ns) == 0 {
		return nil
	}
	return ns[0]
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for _, t := range find(n, func(n *html.Node) bool { return n.Type == html.TextNode }) {
		b.WriteString(t.Data)
	}
	return strings.TrimSpace(b.String())
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
