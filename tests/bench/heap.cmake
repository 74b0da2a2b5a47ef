# The node side: heap read time against the process's own WriteTo, the peak RSS of
# `podprof heap` and `podprof node --once` over processes with 16k and 262k heap
# buckets, the node loop's peak RSS over 50 Go processes, and the memory cost of
# streaming a huge .symtab.
podprof_test(bench_heap SOURCES ${CMAKE_CURRENT_LIST_DIR}/heap.c
             LIBS podprof_profiler LABEL bench GO_PROGRAMS TIMEOUT 900)
