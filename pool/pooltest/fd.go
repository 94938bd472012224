package pooltest

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// FD is an open file descriptor and what it points to.
type FD struct {
	// Num is the descriptor's number.
	Num int
	// Desc says what it points to, in the spirit of lsof: for a TCP or UDP
	// socket its protocol, local and remote address and state, such as
	// "tcp 127.0.0.1:52144 -> 127.0.0.1:6379 ESTABLISHED"; for a Unix
	// socket its path; for a file its path.
	Desc string
}

// String returns "fd N: " and the description.
func (fd FD) String() string { return fmt.Sprintf("fd %d: %s", fd.Num, fd.Desc) }

// FDSnapshot is the set of the process's open file descriptors at one
// moment.
type FDSnapshot struct {
	open map[int]string // number -> link target
}

// errUnsupported is returned where /proc/self/fd does not exist.
var errUnsupported = fmt.Errorf("pooltest: file descriptor snapshots need /proc/self/fd (Linux); unsupported on %s", runtime.GOOS)

// SnapshotFDs records the open file descriptors of the process. It reads
// /proc/self/fd, so it works on Linux and returns an error that says so
// elsewhere.
func SnapshotFDs() (FDSnapshot, error) {
	open, err := readFDs()
	if err != nil {
		return FDSnapshot{}, err
	}
	return FDSnapshot{open: open}, nil
}

// Leaked returns the descriptors opened since s was taken and still open,
// each with what it points to, in order of number. The descriptors the Go
// runtime opens once for its network poller (an epoll instance and its
// wakeup eventfd) are left out: they are the runtime's, not leaks.
func (s FDSnapshot) Leaked() ([]FD, error) {
	if s.open == nil {
		return nil, errors.New("pooltest: Leaked called on a zero FDSnapshot; use SnapshotFDs")
	}
	now, err := readFDs()
	if err != nil {
		return nil, err
	}
	var sockets *socketTable
	var out []FD
	for num, target := range now {
		if old, ok := s.open[num]; ok && old == target {
			continue
		}
		if target == "anon_inode:[eventpoll]" || target == "anon_inode:[eventfd]" {
			continue
		}
		desc := target
		if inode, ok := socketInode(target); ok {
			if sockets == nil {
				sockets = readSocketTable()
			}
			desc = sockets.describe(inode)
		}
		out = append(out, FD{Num: num, Desc: desc})
	}
	slices.SortFunc(out, func(a, b FD) int { return a.Num - b.Num })
	return out, nil
}

// readFDs returns the open descriptors and their link targets, without the
// one used to read the directory.
func readFDs() (map[int]string, error) {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errUnsupported
		}
		return nil, fmt.Errorf("pooltest: %w", err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("pooltest: reading /proc/self/fd: %w", err)
	}
	self := int(dir.Fd())
	open := make(map[int]string, len(names))
	for _, name := range names {
		num, err := strconv.Atoi(name)
		if err != nil || num == self {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc/self/fd", name))
		if err != nil {
			continue // closed while we looked
		}
		open[num] = target
	}
	return open, nil
}

// socketInode parses "socket:[12345]".
func socketInode(target string) (string, bool) {
	inode, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(inode, "]"), true
}

// socketTable maps socket inodes to descriptions, from /proc/self/net.
type socketTable struct {
	byInode map[string]string
}

func readSocketTable() *socketTable {
	t := &socketTable{byInode: make(map[string]string)}
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		t.readInet(proto)
	}
	t.readUnix()
	return t
}

func (t *socketTable) describe(inode string) string {
	if d, ok := t.byInode[inode]; ok {
		return d
	}
	return "socket:[" + inode + "] (not found in /proc/self/net)"
}

// tcpStates names the states of /proc/net/tcp (include/net/tcp_states.h).
var tcpStates = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
	"05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
	"09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}

// readInet reads /proc/self/net/tcp and its kin: "sl local rem st ... inode".
func (t *socketTable) readInet(proto string) {
	f, err := os.Open("/proc/self/net/" + proto)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		local, remote := hexAddr(fields[1]), hexAddr(fields[2])
		kind := strings.TrimSuffix(proto, "6")
		desc := fmt.Sprintf("%s %s -> %s", kind, local, remote)
		if kind == "tcp" {
			desc += " " + tcpStates[fields[3]]
			if fields[3] == "0A" {
				desc = fmt.Sprintf("tcp %s LISTEN", local)
			}
		}
		t.byInode[fields[9]] = desc
	}
}

// readUnix reads /proc/self/net/unix: "Num RefCount Protocol Flags Type St
// Inode Path".
func (t *socketTable) readUnix() {
	f, err := os.Open("/proc/self/net/unix")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		path := "(unnamed)"
		if len(fields) > 7 {
			path = fields[7]
		}
		t.byInode[fields[6]] = "unix " + path
	}
}

// hexAddr decodes "0100007F:18EB" (IPv4, or IPv6 as four little-endian
// words) into "127.0.0.1:6379".
func hexAddr(s string) string {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	raw, err := hex.DecodeString(host)
	p, perr := strconv.ParseUint(port, 16, 16)
	if err != nil || perr != nil || (len(raw) != 4 && len(raw) != 16) {
		return s
	}
	for i := 0; i < len(raw); i += 4 { // each 32-bit word is in host (little-endian) order
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(p)).String()
}
