# pprof/ tests: unit tests of the data model, and the integration test against real Go
# profiles (every installed toolchain) with `go tool pprof` as the independent reader.
set(pprof_proto_dir ${PROJECT_BINARY_DIR}/pprof/proto)

podprof_test(pprof_build_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_build_test.c
             LIBS podprof_pprof LABEL unit)
podprof_test(pprof_decode_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_decode_test.c
             LIBS podprof_pprof PkgConfig::PROTOBUFC PkgConfig::ZLIB LABEL unit)
podprof_test(pprof_transform_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_transform_test.c
             LIBS podprof_pprof PkgConfig::PROTOBUFC LABEL unit)
podprof_test(pprof_delta_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_delta_test.c
             LIBS podprof_pprof LABEL unit)
podprof_test(pprof_go_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_go_test.c
             LIBS podprof_pprof LABEL integration GO_PROGRAMS TIMEOUT 900)
# The decoder tests write hostile protobufs with the generated structs; the transform
# tests read the tables of what they produce through them.
target_include_directories(pprof_decode_test PRIVATE ${pprof_proto_dir})
target_include_directories(pprof_transform_test PRIVATE ${pprof_proto_dir})
