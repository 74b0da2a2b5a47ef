// sample-service is a small Go web service that podprof's demo profiles: it serves
// /debug/pprof (as the cluster role expects of a target), a /catalog endpoint that
// allocates like a real handler (JSON encoding, caching, string building), and drives
// itself with a little background load so that its profiles are never empty.
//
//	sample-service [-listen 127.0.0.1:6060] [-pidfile FILE]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"
)

type item struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	Price float64  `json:"price"`
}

var (
	cacheMu sync.Mutex
	cache   = map[int][]byte{}
)

func buildCatalog(n int) []item {
	items := make([]item, 0, n)
	for i := 0; i < n; i++ {
		items = append(items, item{
			ID:    i,
			Name:  strings.Repeat("x", 8+i%24),
			Tags:  []string{fmt.Sprintf("tag-%d", i%7), fmt.Sprintf("group-%d", i%3)},
			Price: float64(i) * 1.25,
		})
	}
	return items
}

func catalog(w http.ResponseWriter, r *http.Request) {
	n := 200 + int(time.Now().UnixNano()%300)
	body, err := json.Marshal(buildCatalog(n))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	cacheMu.Lock()
	cache[n] = body // a cache that grows: shows up as in-use memory
	cacheMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func load(addr string) {
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/catalog")
		if err == nil {
			buf := make([]byte, 32<<10)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:6060", "address to serve on")
	pidfile := flag.String("pidfile", "", "write the pid here once serving")
	flag.Parse()
	http.HandleFunc("/catalog", catalog)
	go func() {
		time.Sleep(200 * time.Millisecond)
		if *pidfile != "" {
			os.WriteFile(*pidfile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644)
		}
		load(*listen)
	}()
	log.Fatal(http.ListenAndServe(*listen, nil))
}
