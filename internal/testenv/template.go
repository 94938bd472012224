package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	// templateTimeout bounds finding or building the template; a build
	// takes about a second.
	templateTimeout = 2 * time.Minute
	// staleBuildAge is how old an unfinished build must be before it is
	// taken for the leftover of a crashed test process and removed.
	staleBuildAge = time.Hour
	// buildPrefix starts the names of templates under construction.
	buildPrefix = "build-"
	// templateRecipeVersion names the recipe in the cache key; change it
	// when the way templates are built changes in a way that neither
	// templateServerArgs nor bootstrapSQL shows.
	templateRecipeVersion = "1"
)

// bootstrapSQL runs once, when the template is built. FLUSH PRIVILEGES
// loads the grant tables, which bootstrap mode starts without. The DELETE
// drops the proxy grant that names the build machine's host name, which
// --skip-name-resolve would warn about at every start. The sys schema
// (DBA views) is half the template's files, and creating files dominates
// the copy's cost, so it goes.
const bootstrapSQL = `FLUSH PRIVILEGES;
DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';
DROP DATABASE sys;
CREATE DATABASE ` + mariadbDatabase + `;
CREATE USER '` + mariadbUser + `'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('` + mariadbPassword + `');
GRANT ALL PRIVILEGES ON ` + mariadbDatabase + `.* TO '` + mariadbUser + `'@'%';
CREATE USER 'root'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('` + mariadbRootPassword + `');
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
`

// templateServerArgs returns the mariadbd flags that shape the data
// directory. The template is built with them and every start passes them
// again, so the server and its files always agree.
func templateServerArgs() []string {
	return []string{
		// The default is 96 MB, all of it copied for every instance.
		"--innodb-log-file-size=8M",
		// io_uring and libaio are often forbidden in containers (Docker's
		// seccomp profile blocks io_uring); tests gain nothing from them.
		"--innodb-use-native-aio=0",
	}
}

// userArgs returns --user=root when running as root, which mariadbd
// otherwise refuses; other users run it as themselves.
func userArgs() []string {
	if os.Geteuid() == 0 {
		return []string{"--user=root"}
	}
	return nil
}

// templateCache finds or builds the template once per test process.
type templateCache struct {
	once sync.Once
	dir  string // the template's data directory
	err  error
}

// mariadbTemplate is this process's template. It is process-wide by
// design: built once, read-only afterwards, shared by every StartMariaDB.
var mariadbTemplate templateCache

// get returns the template's data directory, finding or building it on
// the first call. A failure is remembered, so later callers fail fast.
func (c *templateCache) get(mariadbd, installDB string) (string, error) {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), templateTimeout)
		defer cancel()
		c.dir, c.err = ensureTemplate(ctx, cacheRoot(), mariadbd, installDB)
	})
	return c.dir, c.err
}

// cacheRoot returns the directory holding the templates: under the user's
// cache directory if it can be created there (HOME may be unset or, for
// system users, not writable), else under the temp directory.
func cacheRoot() string {
	if dir, err := os.UserCacheDir(); err == nil {
		root := filepath.Join(dir, "connkit-testenv")
		if os.MkdirAll(root, 0o755) == nil {
			return root
		}
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("connkit-testenv-%d", os.Getuid()))
}

// ensureTemplate returns the data directory of the template for this
// mariadbd under root, building it if no process has yet. It builds into a
// fresh directory and renames that into place, so concurrent callers, in
// this process or others, never see a partial template: one rename wins
// and the others use the winner's.
func ensureTemplate(ctx context.Context, root, mariadbd, installDB string) (string, error) {
	version, err := serverVersion(ctx, mariadbd)
	if err != nil {
		return "", err
	}
	final := filepath.Join(root, templateName(version))
	data := filepath.Join(final, "data")
	if _, err := os.Stat(final); err == nil {
		return data, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("testenv: create template cache: %w", err)
	}
	removeStaleBuilds(root)
	build, err := os.MkdirTemp(root, buildPrefix)
	if err != nil {
		return "", fmt.Errorf("testenv: create template build directory: %w", err)
	}
	defer os.RemoveAll(build) // gone already if the rename succeeded
	if err := buildTemplate(ctx, installDB, build); err != nil {
		return "", err
	}
	if err := os.Rename(build, final); err != nil {
		if _, serr := os.Stat(final); serr != nil {
			return "", fmt.Errorf("testenv: install template: %w", err)
		}
		// Another caller renamed its template into place first.
	}
	return data, nil
}

// serverVersion returns the output of mariadbd --version, such as
// "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu
// on x86_64 (Debian 12)".
func serverVersion(ctx context.Context, mariadbd string) (string, error) {
	out, err := exec.CommandContext(ctx, mariadbd, "--no-defaults", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("testenv: %s --version: %w", mariadbd, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// templateName names the template for a version: the version number,
// readable, and a hash of everything that decides the template's content.
func templateName(version string) string {
	h := sha256.New()
	for _, s := range append([]string{templateRecipeVersion, version, bootstrapSQL}, templateServerArgs()...) {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return "mariadb-" + versionNumber(version) + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// versionNumber extracts the word after "Ver" from mariadbd --version,
// keeping only characters that are safe in a file name.
func versionNumber(version string) string {
	fields := strings.Fields(version)
	for i, f := range fields {
		if f == "Ver" && i+1 < len(fields) {
			return strings.Map(safeFileRune, fields[i+1])
		}
	}
	return "unknown"
}

// safeFileRune maps characters that are unsafe in file names to '_'.
func safeFileRune(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-+_", r):
		return r
	default:
		return '_'
	}
}

// buildTemplate runs mariadb-install-db into dir/data. The SQL it ran and
// its log stay in dir for whoever inspects the cache.
func buildTemplate(ctx context.Context, installDB, dir string) error {
	sqlPath := filepath.Join(dir, "bootstrap.sql")
	if err := os.WriteFile(sqlPath, []byte(bootstrapSQL), 0o600); err != nil {
		return fmt.Errorf("testenv: write bootstrap SQL: %w", err)
	}
	// Concurrent builds sharing a tmpdir fail now and then ("Unknown table
	// 'mysql.tmp_user_sys'"), so each gets its own.
	tmpDir := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmpDir, 0o700); err != nil {
		return fmt.Errorf("testenv: create build tmpdir: %w", err)
	}
	logPath := filepath.Join(dir, "install.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("testenv: create install log: %w", err)
	}
	defer logf.Close()

	args := append([]string{"--no-defaults"}, userArgs()...) // --no-defaults must come first
	args = append(args, "--datadir="+filepath.Join(dir, "data"), "--tmpdir="+tmpDir,
		"--skip-test-db", "--skip-name-resolve", "--extra-file="+sqlPath)
	cmd := exec.CommandContext(ctx, installDB, append(args, templateServerArgs()...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("testenv: %s: %w\n--- install log ---\n%s", installDB, err, readLogTail(logPath, 0))
	}
	return nil
}

// removeStaleBuilds removes builds under root that crashed test processes
// left behind. Young builds may belong to a running process and stay.
func removeStaleBuilds(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), buildPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleBuildAge {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// copyTemplate copies the template's data directory to dst, which must not
// exist. File contents move with copy_file_range, in the kernel; creating
// the 96 files costs more: about 0.1 s on ext4, 15 ms on tmpfs.
func copyTemplate(template, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(template)); err != nil {
		return fmt.Errorf("testenv: copy MariaDB template to %s: %w", dst, err)
	}
	return nil
}
