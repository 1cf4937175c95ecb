package anonymize

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/cmd/generate/config/utils"
	"github.com/zricethezav/gitleaks/v8/cmd/generate/secrets"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// gitleaks' own test cases: every rule generator in its module
// (cmd/generate/config/rules/*.go, MIT licence, github.com/gitleaks/gitleaks)
// lists true positives (tps) and false positives (fps) for its rule, as
// literals or built with its helpers (utils.GenerateSampleSecret(s),
// secrets.NewSecret). extractGitleaksCases reads those sources from the
// module cache and evaluates the expressions it understands: literals,
// concatenation, those helpers, fmt.Sprintf and strings.Repeat of
// literals, []string{...}, append and local string variables. Whatever it
// cannot evaluate is counted, not guessed.

type gitleaksCases struct {
	rule     string
	tps, fps []string
}

func gitleaksModuleDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/zricethezav/gitleaks/v8").Output()
	if err != nil {
		t.Skipf("go list gitleaks: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "cmd", "generate", "config", "rules")); err != nil {
		t.Skipf("gitleaks sources not in the module cache: %v", err)
	}
	return dir
}

func extractGitleaksCases(t testing.TB) (cases []gitleaksCases, skipped int) {
	dir := filepath.Join(gitleaksModuleDir(t), "cmd", "generate", "config", "rules")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			c := gitleaksCases{rule: ruleIDOf(fd)}
			if c.rule == "" {
				continue
			}
			env := map[string][]string{}
			for _, st := range fd.Body.List {
				as, ok := st.(*ast.AssignStmt)
				if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
					continue
				}
				id, ok := as.Lhs[0].(*ast.Ident)
				if !ok {
					continue
				}
				vals, n := evalStrings(as.Rhs[0], env)
				if id.Name == "tps" || id.Name == "fps" {
					skipped += n
				}
				if vals == nil && n > 0 && id.Name != "tps" && id.Name != "fps" {
					continue
				}
				env[id.Name] = vals
			}
			c.tps, c.fps = env["tps"], env["fps"]
			if len(c.tps)+len(c.fps) > 0 {
				cases = append(cases, c)
			}
		}
	}
	return cases, skipped
}

func ruleIDOf(fd *ast.FuncDecl) string {
	var id string
	ast.Inspect(fd, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok || id != "" {
			return id == ""
		}
		if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "RuleID" {
			if lit, ok := kv.Value.(*ast.BasicLit); ok {
				id, _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	return id
}

// evalStrings evaluates e to a list of strings; n counts the elements it
// could not evaluate.
func evalStrings(e ast.Expr, env map[string][]string) (vals []string, n int) {
	switch x := e.(type) {
	case *ast.CompositeLit:
		for _, el := range x.Elts {
			if _, ok := el.(*ast.KeyValueExpr); ok {
				return nil, len(x.Elts) // map literals (path cases): not ours
			}
			v, k := evalStrings(el, env)
			vals, n = append(vals, v...), n+k
		}
		return vals, n
	case *ast.CallExpr:
		if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "append" && len(x.Args) >= 1 {
			base, k := evalStrings(x.Args[0], env)
			vals, n = append(vals, base...), k
			for _, a := range x.Args[1:] {
				v, k := evalStrings(a, env)
				vals, n = append(vals, v...), n+k
			}
			return vals, n
		}
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "GenerateSampleSecrets" && len(x.Args) == 2 {
			a, ok1 := evalString(x.Args[0], env)
			b, ok2 := evalString(x.Args[1], env)
			if ok1 && ok2 {
				return utils.GenerateSampleSecrets(a, b), 0
			}
			return nil, 1
		}
	case *ast.Ident:
		if v, ok := env[x.Name]; ok {
			return append([]string(nil), v...), 0
		}
	}
	if s, ok := evalString(e, env); ok {
		return []string{s}, 0
	}
	return nil, 1
}

func evalString(e ast.Expr, env map[string][]string) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			s, err := strconv.Unquote(x.Value)
			return s, err == nil
		}
	case *ast.ParenExpr:
		return evalString(x.X, env)
	case *ast.BinaryExpr:
		if x.Op == token.ADD {
			a, ok1 := evalString(x.X, env)
			b, ok2 := evalString(x.Y, env)
			return a + b, ok1 && ok2
		}
	case *ast.Ident:
		if v, ok := env[x.Name]; ok && len(v) == 1 {
			return v[0], true
		}
	case *ast.CallExpr:
		sel, ok := x.Fun.(*ast.SelectorExpr)
		if !ok {
			return "", false
		}
		var args []string
		for _, a := range x.Args {
			if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.INT {
				args = append(args, lit.Value)
				continue
			}
			s, ok := evalString(a, env)
			if !ok {
				return "", false
			}
			args = append(args, s)
		}
		one := map[string]func(string) string{
			"NewSecret": secrets.NewSecret, "Numeric": utils.Numeric, "Hex": utils.Hex,
			"AlphaNumeric": utils.AlphaNumeric, "AlphaNumericExtendedShort": utils.AlphaNumericExtendedShort,
			"AlphaNumericExtended": utils.AlphaNumericExtended, "AlphaNumericExtendedLong": utils.AlphaNumericExtendedLong,
		}
		switch name := sel.Sel.Name; {
		case one[name] != nil && len(args) == 1:
			return one[name](args[0]), true
		case name == "Hex8_4_4_4_12" && len(args) == 0:
			return utils.Hex8_4_4_4_12(), true
		case name == "GenerateSampleSecret" && len(args) == 2:
			return utils.GenerateSampleSecret(args[0], args[1]), true
		case name == "Repeat" && len(args) == 2:
			k, err := strconv.Atoi(args[1])
			return strings.Repeat(args[0], k), err == nil
		case name == "Sprintf" && len(args) >= 1:
			as := make([]any, len(args)-1)
			for i, a := range args[1:] {
				as[i] = a
			}
			return fmt.Sprintf(args[0], as...), true
		}
	}
	return "", false
}

// ruleScore is one rule's row of the recall/precision table.
type ruleScore struct {
	rule                        string
	tps, gitleaksSaw            int
	caughtOwn, caughtAll        int
	fps, flaggedOwn, flaggedAll int
}

// TestGitleaksCases measures recall on every rule's true positives and
// false alarms on its false positives, for opsdata's own detectors alone
// and with gitleaks' rules (the default). A true positive counts when
// gitleaks' own detector finds secrets in it (some need a file path) and
// none of them survives Text; a false positive counts as flagged when Text
// redacts a secret in it. Set OPSDATA_GITLEAKS_TABLE=path to write the
// per-rule table.
func TestGitleaksCases(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	logging.Logger = zerolog.New(io.Discard)
	cases, skipped := extractGitleaksCases(t)
	det, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	own, err := newAnonymizer(testKey, textPolicy, "service", options{noGitleaks: true})
	if err != nil {
		t.Fatal(err)
	}
	all := newTest(t, textPolicy)
	var scores []ruleScore
	var tot ruleScore
	for _, c := range cases {
		sc := ruleScore{rule: c.rule, tps: len(c.tps), fps: len(c.fps)}
		for _, tp := range c.tps {
			var secrets []string
			for _, f := range det.DetectString(tp) {
				if f.Secret != "" {
					secrets = append(secrets, f.Secret)
				}
			}
			if len(secrets) == 0 {
				continue // gitleaks itself needs more (a path, a second rule)
			}
			sc.gitleaksSaw++
			if !survives(own.Text(tp), secrets) {
				sc.caughtOwn++
			}
			if !survives(all.Text(tp), secrets) {
				sc.caughtAll++
			}
		}
		for _, fp := range c.fps {
			n := strings.Count(fp, RedactedSecret)
			if strings.Count(own.Text(fp), RedactedSecret) > n {
				sc.flaggedOwn++
			}
			if strings.Count(all.Text(fp), RedactedSecret) > n {
				sc.flaggedAll++
			}
		}
		scores = append(scores, sc)
		tot.tps += sc.tps
		tot.gitleaksSaw += sc.gitleaksSaw
		tot.caughtOwn += sc.caughtOwn
		tot.caughtAll += sc.caughtAll
		tot.fps += sc.fps
		tot.flaggedOwn += sc.flaggedOwn
		tot.flaggedAll += sc.flaggedAll
	}
	rulesFull := 0
	var missed []string
	for _, sc := range scores {
		if sc.caughtAll == sc.gitleaksSaw {
			rulesFull++
		} else {
			missed = append(missed, fmt.Sprintf("%s %d/%d", sc.rule, sc.caughtAll, sc.gitleaksSaw))
		}
	}
	t.Logf("gitleaks cases: %d rules, %d tps (%d seen by gitleaks), %d fps, %d expressions not evaluated", len(scores), tot.tps, tot.gitleaksSaw, tot.fps, skipped)
	t.Logf("recall own %d/%d = %.3f; with gitleaks %d/%d = %.3f; rules with full recall %d/%d",
		tot.caughtOwn, tot.gitleaksSaw, ratio(tot.caughtOwn, tot.gitleaksSaw), tot.caughtAll, tot.gitleaksSaw, ratio(tot.caughtAll, tot.gitleaksSaw), rulesFull, len(scores))
	t.Logf("false positives flagged: own %d/%d, with gitleaks %d/%d", tot.flaggedOwn, tot.fps, tot.flaggedAll, tot.fps)
	if len(missed) > 0 {
		t.Logf("rules below full recall: %s", strings.Join(missed, ", "))
	}
	if out := os.Getenv("OPSDATA_GITLEAKS_TABLE"); out != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "| rule | tps | caught (own) | caught (with gitleaks) | fps | flagged (own) | flagged (with gitleaks) |\n|---|---|---|---|---|---|---|\n")
		for _, sc := range scores {
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d |\n", sc.rule, sc.gitleaksSaw, sc.caughtOwn, sc.caughtAll, sc.fps, sc.flaggedOwn, sc.flaggedAll)
		}
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := ratio(tot.caughtAll, tot.gitleaksSaw); r < 0.97 {
		t.Errorf("recall with gitleaks rules %.3f, want >= 0.97", r)
	}
	if len(scores) < 150 {
		t.Errorf("only %d rules with cases extracted", len(scores))
	}
}

func survives(out string, secrets []string) bool {
	for _, s := range secrets {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
