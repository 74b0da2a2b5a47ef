// noprof never references runtime/pprof or runtime.MemProfile, so the Go linker turns
// heap profiling off in it (runtime.MemProfileRate = 0 at start). It writes its pid to
// the file named by its first argument, then allocates in main.allocSite every 10 ms
// until it is killed.
package main

import (
	"fmt"
	"os"
	"time"
)

var kept [][]byte

//go:noinline
func allocSite() {
	b := make([]byte, 64<<10)
	kept = append(kept, b)
	if len(kept) > 256 {
		kept = kept[128:]
	}
}

func main() {
	if len(os.Args) > 1 {
		os.WriteFile(os.Args[1], []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644)
	}
	for {
		allocSite()
		time.Sleep(10 * time.Millisecond)
	}
}
