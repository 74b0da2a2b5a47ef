// churn keeps Go processes coming and going, for podprof's soak test
// (scripts/soak.sh): the node role must follow processes that start, exit and exec
// without leaking what it keeps per process (standard library only).
//
//	churn -n N [-min D] [-max D] [-seed S] [BINARY...]
//
// As a supervisor (the default), it keeps N children running, each started from the
// next BINARY in turn (itself when none is given: one churn binary per Go toolchain
// makes a mix of releases) with -child. A child allocates (a retained working set and
// short-lived garbage, from a few call sites), and after a random life between -min
// and -max either exits or, one time in two, execs itself again (the same pid with a
// new process image, as a container's entrypoint script does). The supervisor stops
// its children and exits on SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var (
	kept [][]byte
	sink []byte
)

//go:noinline
func retain(n, size int) {
	for i := 0; i < n; i++ {
		kept = append(kept, make([]byte, size))
	}
	if len(kept) > 4096 {
		kept = kept[len(kept)-2048:]
	}
}

//go:noinline
func garbage(n int) {
	for i := 0; i < n; i++ {
		sink = make([]byte, 512+i%4096)
	}
}

func child(minLife, maxLife time.Duration, gen int, rng *rand.Rand) {
	life := minLife
	if maxLife > minLife {
		life += time.Duration(rng.Int63n(int64(maxLife - minLife)))
	}
	end := time.Now().Add(life)
	for time.Now().Before(end) {
		retain(16, 1024+rng.Intn(8192))
		garbage(200)
		time.Sleep(50 * time.Millisecond)
	}
	if rng.Intn(2) == 0 {
		os.Exit(0)
	}
	// exec ourselves: same pid, a fresh process image (and a fresh heap)
	exe, err := os.Executable()
	if err != nil {
		os.Exit(0)
	}
	args := []string{exe, "-child", "-min", minLife.String(), "-max", maxLife.String(),
		"-gen", strconv.Itoa(gen + 1)}
	syscall.Exec(exe, args, os.Environ())
	os.Exit(0) // exec failed (binary replaced or gone): just exit
}

func main() {
	n := flag.Int("n", 50, "children kept running")
	minLife := flag.Duration("min", 5*time.Second, "shortest life of a child")
	maxLife := flag.Duration("max", 30*time.Second, "longest life of a child")
	seed := flag.Int64("seed", 0, "random seed (0: from the clock and pid)")
	isChild := flag.Bool("child", false, "run as a child")
	gen := flag.Int("gen", 0, "how many times this child exec'd itself")
	flag.Parse()
	s := *seed
	if s == 0 {
		s = time.Now().UnixNano() ^ int64(os.Getpid())<<20
	}
	rng := rand.New(rand.NewSource(s))
	if *isChild {
		runtime.MemProfileRate = 64 << 10
		child(*minLife, *maxLife, *gen, rng)
		return
	}

	bins := flag.Args()
	if len(bins) == 0 {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "churn:", err)
			os.Exit(1)
		}
		bins = []string{exe}
	}
	var mu sync.Mutex
	stopping := false
	children := map[int]*exec.Cmd{}
	slots := make(chan struct{}, *n)
	for i := 0; i < *n; i++ {
		slots <- struct{}{}
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		mu.Lock()
		stopping = true
		for _, c := range children {
			c.Process.Signal(syscall.SIGKILL)
		}
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		os.Exit(0)
	}()
	next := 0
	for range slots {
		bin := bins[next%len(bins)]
		next++
		c := exec.Command(bin, "-child", "-min", minLife.String(), "-max", maxLife.String(),
			"-seed", strconv.FormatInt(rng.Int63()+1, 10))
		mu.Lock()
		if stopping {
			mu.Unlock()
			select {}
		}
		if err := c.Start(); err != nil {
			mu.Unlock()
			fmt.Fprintln(os.Stderr, "churn:", err)
			time.Sleep(time.Second)
			slots <- struct{}{}
			continue
		}
		children[c.Process.Pid] = c
		mu.Unlock()
		go func(c *exec.Cmd) {
			c.Wait()
			mu.Lock()
			delete(children, c.Process.Pid)
			mu.Unlock()
			slots <- struct{}{}
		}(c)
		// stagger the starts
		time.Sleep(time.Duration(rng.Int63n(int64(100 * time.Millisecond))))
	}
}
