package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnsureTemplateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	mariadbd := requireBinary(t, "mariadbd", "mariadb-server", "/usr/sbin/mariadbd")
	installDB := requireBinary(t, "mariadb-install-db", "mariadb-server", "/usr/bin/mariadb-install-db")
	root := t.TempDir()

	// Two builders race, as two test processes would; both must end up
	// with the same, complete template.
	var wg sync.WaitGroup
	dirs := make([]string, 2)
	errs := make([]error, 2)
	for i := range dirs {
		wg.Go(func() { dirs[i], errs[i] = ensureTemplate(ctx, root, mariadbd, installDB) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("builder %d: %v", i, err)
		}
	}
	if dirs[0] != dirs[1] {
		t.Fatalf("builders returned %q and %q", dirs[0], dirs[1])
	}
	for _, want := range []string{"mysql", "connkit", "ibdata1"} {
		if _, err := os.Stat(filepath.Join(dirs[0], want)); err != nil {
			t.Errorf("template lacks %s: %v", want, err)
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want the template only: %v", len(entries), entries)
	}
	again, err := ensureTemplate(ctx, root, mariadbd, installDB)
	if err != nil || again != dirs[0] {
		t.Errorf("cached lookup = %q, %v; want %q", again, err, dirs[0])
	}
}

func TestTemplateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string // prefix
	}{
		{name: "Debian", give: "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)",
			want: "mariadb-10.11.19-MariaDB-0+deb12u1-"},
		{name: "Unsafe", give: "mariadbd Ver 11.4/x y", want: "mariadb-11.4_x-"},
		{name: "Unparsable", give: "something else", want: "mariadb-unknown-"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		got := templateName(tt.give)
		if !strings.HasPrefix(got, tt.want) || len(got) != len(tt.want)+12 {
			t.Errorf("%s: templateName = %q, want %q and a 12-digit hash", tt.name, got, tt.want)
		}
		if templateName(tt.give) != got {
			t.Errorf("%s: templateName is not stable", tt.name)
		}
		seen[got] = true
	}
	if len(seen) != len(tests) {
		t.Errorf("names collide: %v", seen)
	}
}

func TestRemoveStaleBuilds(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	old := time.Now().Add(-2 * staleBuildAge)
	for _, name := range []string{buildPrefix + "old", buildPrefix + "young", "mariadb-old"} {
		if err := os.Mkdir(filepath.Join(root, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "old") {
			if err := os.Chtimes(filepath.Join(root, name), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeStaleBuilds(root)
	for name, want := range map[string]bool{buildPrefix + "old": false, buildPrefix + "young": true, "mariadb-old": true} {
		if _, err := os.Stat(filepath.Join(root, name)); (err == nil) != want {
			t.Errorf("%s: exists = %v, want %v", name, err == nil, want)
		}
	}
}

func BenchmarkCopyTemplate(b *testing.B) {
	mariadbd := requireBinary(b, "mariadbd", "mariadb-server", "/usr/sbin/mariadbd")
	installDB := requireBinary(b, "mariadb-install-db", "mariadb-server", "/usr/bin/mariadb-install-db")
	template, err := mariadbTemplate.get(mariadbd, installDB)
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	for b.Loop() {
		dst := filepath.Join(root, "data")
		if err := copyTemplate(template, dst); err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(dst); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCopyTemplate(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	files := map[string]string{"ibdata1": "pages", "mysql/user.MAI": "index", "connkit/db.opt": "opt"}
	for name, content := range files {
		path := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o660); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "data")
	if err := copyTemplate(src, dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if err := copyTemplate(src, dst); err == nil {
		t.Error("copying onto an existing copy succeeded; it must not overwrite")
	}
}
