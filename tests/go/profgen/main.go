// profgen writes cumulative heap, block, mutex and goroutine profiles (runtime/pprof,
// gzip protobuf) at two moments, with known work in between, for podprof's pprof
// integration test:
//
//	profgen DIR
//
// writes DIR/{heap,block,mutex,goroutine}.{1,2}.pb.gz. Between snapshot 1 and 2,
// main.distinctiveAlloc allocates exactly allocCount objects of allocSize bytes, and
// main.distinctiveBlock blocks on a channel exactly blockCount times. Every allocation
// is sampled (MemProfileRate 1), so the heap profile's values are exact. The test keeps
// these constants in step with its own.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

const (
	allocCount = 4096
	allocSize  = 256 // a size class: the profile reports exactly this size
	blockCount = 20
)

var (
	keep     [allocCount][]byte
	churn    [][]byte
	counter  int
	mu       sync.Mutex
	parkedCh = make(chan struct{})
)

func init() {
	runtime.MemProfileRate = 1
}

//go:noinline
func distinctiveAlloc() {
	for i := range keep {
		keep[i] = make([]byte, allocSize)
	}
}

//go:noinline
func distinctiveBlock() {
	ch := make(chan int)
	for i := 0; i < blockCount; i++ {
		go func(v int) {
			time.Sleep(time.Millisecond)
			ch <- v
		}(i)
		<-ch
	}
}

// background allocates in a stack that exists in both snapshots, so that the delta
// sees grown keys as well as new ones.
//
//go:noinline
func background(n int) {
	for i := 0; i < n; i++ {
		churn = append(churn, make([]byte, 64+i%512))
		if len(churn) > 1000 {
			churn = churn[:0]
		}
	}
}

//go:noinline
func contend(workers, rounds int) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				mu.Lock()
				counter++
				time.Sleep(10 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

//go:noinline
func parked() {
	<-parkedCh
}

func snapshot(dir string, n int) error {
	// A completed GC publishes every allocation made so far to the heap profile.
	runtime.GC()
	for _, name := range []string{"heap", "block", "mutex", "goroutine"} {
		path := filepath.Join(dir, fmt.Sprintf("%s.%d.pb.gz", name, n))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: profgen DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	runtime.SetBlockProfileRate(1)
	runtime.SetMutexProfileFraction(1)
	for i := 0; i < 8; i++ {
		go parked()
	}
	background(20000)
	contend(4, 50)
	warmupBlock()
	if err := snapshot(dir, 1); err != nil {
		fmt.Fprintln(os.Stderr, "profgen:", err)
		os.Exit(1)
	}
	distinctiveAlloc()
	distinctiveBlock()
	background(20000)
	contend(4, 50)
	for i := 0; i < 4; i++ {
		go parked()
	}
	if err := snapshot(dir, 2); err != nil {
		fmt.Fprintln(os.Stderr, "profgen:", err)
		os.Exit(1)
	}
	close(parkedCh)
}

// warmupBlock blocks before snapshot 1 from another stack, so that the block
// profile is never empty there.
//
//go:noinline
func warmupBlock() {
	ch := make(chan int)
	go func() {
		time.Sleep(time.Millisecond)
		ch <- 1
	}()
	<-ch
}
