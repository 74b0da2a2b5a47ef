// pprofsrv is a Go service with net/http/pprof that does known work, the target of
// podprof's scraper tests and benchmark (standard library only):
//
//	pprofsrv [-port-file FILE] [-paused] [-delta-heap] [-cpu-duty F] [-alloc-rate N]
//	         [-stacks N] [-memprofilerate N] [-port P] [-ports N] [-cpu-log FILE]
//
// It listens on 127.0.0.1 (a free port, or -port P, written to -port-file once it
// accepts connections) and serves /debug/pprof/ with every allocation sampled
// (MemProfileRate 1, so heap values are exact), every mutex contention and every
// blocking event recorded. Its work, each in a distinctive function:
//
//	main.burnCPU     spins for -cpu-duty of one core
//	main.allocWork   allocates -alloc-rate bytes per second in 1 KiB objects
//	main.sizesWork   allocates one object of each of many size classes from one call
//	                 site every 100 ms, so that its heap profile holds many samples
//	                 with the same stack (one per size), and keeps the last rounds
//	main.mutexWork   goroutines contending for one sync.Mutex
//	main.blockWork   a receiver blocking on an unbuffered channel
//	main.parkForever goroutines parked for good
//
// allocWork and sizesWork can be paused: GET /ctl/pause stops them, then runs the GC
// twice so that the heap profile (which shows what the last completed GC published)
// holds all they did; GET /ctl/resume starts them again; -paused starts paused.
// GET /ctl/stats returns {"delta_heap": hits}.
//
// With -delta-heap, /debug/pprof/delta_heap serves the cumulative heap profile (what
// the plain /debug/pprof/heap serves): a client that takes it for a godeltaprof
// endpoint must upload it as it is, and never turn it into a delta again.
//
// With -ports N (the soak test) it listens on N ports (P, P+1, ... with -port P, else
// free ones) that all serve the same pages, one line per port in -port-file; one
// process then stands for N scrape targets (Go runs one CPU profile at a time, so
// at most one of them should be scraped for CPU).
//
// With -cpu-log FILE, every CPU profile request appends "<start ns> <end ns> <status>"
// (wall clock) to FILE when it ends.
//
// With -stacks N (the benchmark), trees of calls give every profile type many stacks:
// N leaves that allocate, N that burn CPU, and N/8 goroutines parked at leaves of their
// own, woken every 100 ms to contend for one mutex.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sizes spans Go's size classes, plus two large objects.
var sizes = []int{16, 32, 48, 64, 96, 128, 176, 256, 352, 512, 704, 1024, 1408, 2048,
	3072, 4096, 5376, 8192, 10240, 13568, 16384, 21760, 27264, 32768, 40000, 70000}

const sizesRounds = 4

var (
	gate      sync.Mutex
	paused    bool
	deltaHits int64

	allocSink  []byte
	sizesKeep  [sizesRounds][][]byte
	sizesRound int
	treeKeep   [][]byte
	burnSink   uint64
	parkCh     = make(chan struct{})
)

func init() {
	runtime.MemProfileRate = 1
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
}

//go:noinline
func burnCPU(d time.Duration) {
	end := time.Now().Add(d)
	x := burnSink
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	burnSink = x
}

//go:noinline
func allocWork(n int) {
	for i := 0; i < n; i++ {
		allocSink = make([]byte, 1024)
	}
}

//go:noinline
func sizesWork() {
	keep := make([][]byte, len(sizes))
	for i, sz := range sizes {
		keep[i] = make([]byte, sz) // one call site, many sizes
	}
	sizesKeep[sizesRound%sizesRounds] = keep
	sizesRound++
}

//go:noinline
func mutexWork(mu *sync.Mutex, every time.Duration) {
	for {
		mu.Lock()
		time.Sleep(200 * time.Microsecond)
		mu.Unlock()
		time.Sleep(every)
	}
}

//go:noinline
func blockWork(ch chan int) {
	for {
		<-ch
	}
}

//go:noinline
func parkForever() {
	<-parkCh
}

// gated runs f every period while not paused.
func gated(period time.Duration, f func()) {
	for {
		gate.Lock()
		if !paused {
			f()
		}
		gate.Unlock()
		time.Sleep(period)
	}
}

// The benchmark's trees. left and right call each other down to every leaf in turn
// (each path a distinct stack); walkL and walkR go down to one given leaf.
//
//go:noinline
func left(depth, path int, leaf func(int)) {
	if depth == 0 {
		leaf(path)
		return
	}
	left(depth-1, path<<1, leaf)
	right(depth-1, path<<1|1, leaf)
}

//go:noinline
func right(depth, path int, leaf func(int)) {
	if depth == 0 {
		leaf(path)
		return
	}
	left(depth-1, path<<1, leaf)
	right(depth-1, path<<1|1, leaf)
}

//go:noinline
func walkL(depth, path int, leaf func()) {
	if depth == 0 {
		leaf()
	} else if path>>(depth-1)&1 == 0 {
		walkL(depth-1, path, leaf)
	} else {
		walkR(depth-1, path, leaf)
	}
}

//go:noinline
func walkR(depth, path int, leaf func()) {
	if depth == 0 {
		leaf()
	} else if path>>(depth-1)&1 == 0 {
		walkL(depth-1, path, leaf)
	} else {
		walkR(depth-1, path, leaf)
	}
}

//go:noinline
func treeAlloc(path int) {
	treeKeep[path] = make([]byte, 32+path%200)
}

// treeWaiter parks at its own leaf; woken, it contends for mu.
//
//go:noinline
func treeWaiter(c chan struct{}, mu *sync.Mutex, n *int) {
	for range c {
		mu.Lock()
		*n++
		time.Sleep(10 * time.Microsecond)
		mu.Unlock()
	}
}

// treeDepth returns the depth of a tree with at least n leaves.
func treeDepth(n int) int {
	d := 0
	for 1<<d < n {
		d++
	}
	return d
}

// startTree: n allocation stacks; CPU burnt at n leaves; n/8 goroutines, each parked
// at a leaf of its own (goroutine profile), woken every 100 ms (block profile) to
// contend for one mutex (mutex profile).
func startTree(n int) {
	if n <= 0 {
		return
	}
	d := treeDepth(n)
	treeKeep = make([][]byte, 1<<d)
	go gated(500*time.Millisecond, func() { left(d, 0, treeAlloc) })
	go func() {
		for {
			left(d, 0, func(int) { burnCPU(20 * time.Microsecond) })
			time.Sleep(20 * time.Millisecond)
		}
	}()
	small := treeDepth(n / 8)
	var mu sync.Mutex
	var count int
	chans := make([]chan struct{}, 1<<small)
	for i := range chans {
		c := make(chan struct{})
		chans[i] = c
		go walkL(small, i, func() { treeWaiter(c, &mu, &count) })
	}
	go func() {
		for {
			time.Sleep(100 * time.Millisecond)
			for _, c := range chans {
				c <- struct{}{}
			}
		}
	}()
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// logged runs h and appends "<start ns> <end ns> <status>" (wall clock) to path: the
// scraper tests check from it that a client never ran two CPU profiles at once.
func logged(path string, h http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now().UnixNano()
		h(sw, r)
		end := time.Now().UnixNano()
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0644)
		if err != nil {
			return
		}
		fmt.Fprintf(f, "%d %d %d\n", start, end, sw.status)
		f.Close()
	}
}

func main() {
	portFile := flag.String("port-file", "", "write the port here once listening")
	startPaused := flag.Bool("paused", false, "start with allocWork and sizesWork paused")
	deltaHeap := flag.Bool("delta-heap", false,
		"serve the cumulative heap profile at /debug/pprof/delta_heap")
	duty := flag.Float64("cpu-duty", 0.1, "fraction of one core that burnCPU uses")
	rate := flag.Int("alloc-rate", 1<<20, "bytes per second allocated by allocWork")
	stacks := flag.Int("stacks", 0, "leaves of the benchmark's call tree (0: none)")
	memRate := flag.Int("memprofilerate", 1, "runtime.MemProfileRate")
	fixedPort := flag.Int("port", 0, "listen on this port (0: a free one)")
	nports := flag.Int("ports", 1, "listen on this many ports, all serving the same pages")
	cpuLog := flag.String("cpu-log", "",
		"append \"<start ns> <end ns> <status>\" here for every CPU profile request")
	flag.Parse()
	runtime.MemProfileRate = *memRate
	paused = *startPaused

	// a mux of its own: Go 1.22+ registers "GET /debug/pprof/" on the default one,
	// which conflicts with a method-less /debug/pprof/delta_heap
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
	if *cpuLog != "" {
		mux.HandleFunc("/debug/pprof/profile", logged(*cpuLog, httppprof.Profile))
	} else {
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	}
	mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	if *deltaHeap {
		mux.HandleFunc("/debug/pprof/delta_heap", func(w http.ResponseWriter, r *http.Request) {
			atomic.AddInt64(&deltaHits, 1)
			w.Header().Set("Content-Type", "application/octet-stream")
			pprof.Lookup("heap").WriteTo(w, 0)
		})
	}
	mux.HandleFunc("/ctl/pause", func(w http.ResponseWriter, r *http.Request) {
		gate.Lock()
		paused = true
		gate.Unlock()
		// publish everything allocated so far in the heap profile
		runtime.GC()
		runtime.GC()
		fmt.Fprintln(w, "paused")
	})
	mux.HandleFunc("/ctl/resume", func(w http.ResponseWriter, r *http.Request) {
		gate.Lock()
		paused = false
		gate.Unlock()
		fmt.Fprintln(w, "running")
	})
	mux.HandleFunc("/ctl/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "{\"delta_heap\": %d}\n", atomic.LoadInt64(&deltaHits))
	})

	var lns []net.Listener
	for i := 0; i < *nports; i++ {
		addr := "127.0.0.1:0"
		if *fixedPort > 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", *fixedPort+i)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pprofsrv:", err)
			os.Exit(1)
		}
		lns = append(lns, ln)
	}

	if *duty > 0 {
		on := time.Duration(*duty * float64(10*time.Millisecond))
		go func() {
			for {
				burnCPU(on)
				time.Sleep(10*time.Millisecond - on)
			}
		}()
	}
	if *rate > 0 {
		// every 10 ms, a hundredth of the rate
		n := *rate / 1024 / 100
		if n < 1 {
			n = 1
		}
		go gated(10*time.Millisecond, func() { allocWork(n) })
	}
	go gated(100*time.Millisecond, sizesWork)
	var mu sync.Mutex
	for i := 0; i < 3; i++ {
		go mutexWork(&mu, 5*time.Millisecond)
	}
	ch := make(chan int)
	go blockWork(ch)
	go func() {
		for {
			time.Sleep(5 * time.Millisecond)
			ch <- 1
		}
	}()
	for i := 0; i < 4; i++ {
		go parkForever()
	}
	startTree(*stacks)

	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		os.Exit(0)
	}()
	if *portFile != "" {
		tmp := *portFile + ".tmp"
		text := ""
		for _, ln := range lns {
			text += fmt.Sprintf("%d\n", ln.Addr().(*net.TCPAddr).Port)
		}
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil ||
			os.Rename(tmp, *portFile) != nil {
			fmt.Fprintln(os.Stderr, "pprofsrv: cannot write", *portFile)
			os.Exit(1)
		}
	}
	for _, ln := range lns[1:] {
		go func(ln net.Listener) {
			if err := http.Serve(ln, mux); err != nil {
				fmt.Fprintln(os.Stderr, "pprofsrv:", err)
				os.Exit(1)
			}
		}(ln)
	}
	if err := http.Serve(lns[0], mux); err != nil {
		fmt.Fprintln(os.Stderr, "pprofsrv:", err)
		os.Exit(1)
	}
}
