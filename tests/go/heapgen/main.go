// heapgen allocates in known patterns and then waits, so that podprof's reading of its
// heap profile from outside can be compared with the profile the Go runtime writes
// itself.
//
//	heapgen [-profile FILE] [-ready FILE] [-churn] [-rate N]
//
// It creates -ready (holding its pid), allocates, runs the GC until its allocation
// sites are published in its heap profile, writes that profile (runtime/pprof, gzip
// protobuf) to -profile (atomically: when the file exists the process is idle), and
// waits for SIGTERM. With -churn it keeps allocating from several goroutines. On
// SIGUSR1 it does one more step of known work, runs the GC until the step is published
// and writes its heap profile again (to -profile with the suffix ".N").
//
// Why "until published": the heap profile shows the state of the last GC cycle that
// finished sweeping, and runtime.GC() publishes only when no other cycle started
// meanwhile (one triggered by a goroutine still allocating, for instance), so two calls
// do not always publish. The profile written is the one a reader from outside sees.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

var (
	retained  [][]byte
	retainedP []*node
	sinkMap   map[int]string
	sink      []byte
)

type node struct {
	next  *node
	value [6]int64
}

//go:noinline
func smallRetained(n int) {
	for i := 0; i < n; i++ {
		retainedP = append(retainedP, &node{value: [6]int64{int64(i)}})
	}
}

//go:noinline
func largeHalfFreed(n int) {
	for i := 0; i < n; i++ {
		b := make([]byte, 256<<10)
		if i%2 == 0 {
			retained = append(retained, b)
		} else {
			sink = b
		}
	}
}

//go:noinline
func deep(depth int, leaf func()) int {
	if depth == 0 {
		leaf()
		return 0
	}
	return deep(depth-1, leaf) + 1
}

// The sampled sites allocate enough to be in the profile for certain at the default rate
// of one sample per 512 KiB: B bytes go unsampled with probability about e^(-B/512 KiB),
// so 16 MiB and more (e^-32); at 3 MiB (e^-6) a site went missing in about one run in
// twelve of the 32 program variants that the accuracy test reads.

//go:noinline
func deepLeaf40() {
	for i := 0; i < 64; i++ {
		retained = append(retained, make([]byte, 256<<10))
	}
}

//go:noinline
func deepLeaf200() {
	for i := 0; i < 64; i++ {
		retained = append(retained, make([]byte, 384<<10))
	}
}

// inlinedAlloc is small enough to be inlined into callInlined.
func inlinedAlloc(n int) []byte {
	return make([]byte, n)
}

//go:noinline
func callInlined() {
	for i := 0; i < 64; i++ {
		retained = append(retained, inlinedAlloc(256<<10))
	}
}

// churnWorker allocates short-lived buffers: n of them, or until stop is closed when n
// is negative.
//
//go:noinline
func churnWorker(id, n int, stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	var local []byte
	for i := 0; n < 0 || i < n; i++ {
		if n < 0 && i%1000 == 0 {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(time.Millisecond)
		}
		local = make([]byte, 1024+id*512)
	}
	sink = local
}

//go:noinline
func growMap(n int) {
	sinkMap = make(map[int]string)
	for i := 0; i < n; i++ {
		sinkMap[i] = fmt.Sprintf("value-%d", i)
	}
}

//go:noinline
func step(n int) {
	for i := 0; i < 1000*n; i++ {
		retained = append(retained, make([]byte, 512+n*64))
	}
	for i := 0; i < 200; i++ {
		sink = make([]byte, 300<<10)
	}
}

// siteBytes returns, for each function named in want, the allocated bytes of the
// published heap-profile records whose stacks hold it (inlined frames included).
// Sampling is off while it runs, so that its own allocations never enter the profile.
func siteBytes(want []string) map[string]int64 {
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 0
	defer func() { runtime.MemProfileRate = rate }()
	got := make(map[string]int64, len(want))
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			break
		}
	}
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		seen := map[string]bool{}
		for {
			f, more := frames.Next()
			for _, w := range want {
				if f.Function == w && !seen[w] {
					seen[w] = true
					got[w] += r.AllocBytes
				}
			}
			if !more {
				break
			}
		}
	}
	return got
}

// publish runs the GC until every function in want holds more allocated bytes in the
// published heap profile than in before (nil: more than none), and returns them.
func publish(want []string, before map[string]int64) map[string]int64 {
	if runtime.MemProfileRate <= 0 {
		return nil // sampling off: nothing will ever be published
	}
	for i := 0; i < 100; i++ {
		runtime.GC()
		runtime.GC()
		got := siteBytes(want)
		done := true
		for _, w := range want {
			if got[w] <= before[w] {
				done = false
			}
		}
		if done {
			return got
		}
	}
	fmt.Fprintln(os.Stderr, "heapgen: allocation sites never published:", want)
	os.Exit(1)
	return nil
}

func writeProfile(path string) {
	if path == "" {
		return
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.Close()
	os.Rename(path+".tmp", path)
}

func main() {
	profile := flag.String("profile", "", "write the heap profile here when ready")
	ready := flag.String("ready", "", "create this file when ready")
	churn := flag.Bool("churn", false, "keep allocating from several goroutines after the snapshot")
	rate := flag.Int("rate", -1, "set runtime.MemProfileRate first (-1: leave it)")
	flag.Parse()
	if *rate >= 0 {
		runtime.MemProfileRate = *rate
	}

	// Everything that allocates on its own (signal handling, the ready file) happens
	// before the final GCs, so that the published profile does not change while the
	// process waits to be read.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	stop := make(chan struct{})
	var churned, churning sync.WaitGroup
	for i := 0; i < 4; i++ {
		// a fixed amount of churn from several goroutines, done before the snapshot
		churned.Add(1)
		go churnWorker(i, 20000, stop, &churned)
		if *churn {
			churning.Add(1)
			go churnWorker(i, -1, stop, &churning)
		}
	}
	if *ready != "" {
		os.WriteFile(*ready, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644)
	}

	smallRetained(200000)
	largeHalfFreed(40)
	deep(40, deepLeaf40)
	deep(200, deepLeaf200)
	callInlined()
	growMap(5000)
	churned.Wait()
	publish([]string{"main.smallRetained", "main.largeHalfFreed", "main.deepLeaf40",
		"main.deepLeaf200", "main.inlinedAlloc", "main.churnWorker"}, nil)
	writeProfile(*profile)

	snapshots := 0
	var stepped map[string]int64
	for s := range sigs {
		if s == syscall.SIGUSR1 {
			// one step of known work, published, then a snapshot
			snapshots++
			step(snapshots)
			stepped = publish([]string{"main.step"}, stepped)
			writeProfile(fmt.Sprintf("%s.%d", *profile, snapshots))
			continue
		}
		close(stop)
		return
	}
}
