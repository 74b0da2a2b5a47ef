# pprof/ tests: unit tests of the data model, and the integration test against real Go
# profiles (every installed toolchain) with `go tool pprof` as the independent reader.
# The decoder tests write hostile protobufs with the protoc-c generated structs; the
# transform tests read the tables of what they produce through them; the wire tests
# check the decoder and the encoder against protobuf-c's unpack and pack.
podprof_test(pprof_build_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_build_test.c
             LIBS podprof_pprof LABEL unit)
podprof_test(pprof_decode_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_decode_test.c
             LIBS podprof_pprof podprof_pprof_pb PkgConfig::ZLIB LABEL unit)
podprof_test(pprof_transform_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_transform_test.c
             LIBS podprof_pprof podprof_pprof_pb LABEL unit)
podprof_test(pprof_wire_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_wire_test.c
             LIBS podprof_pprof podprof_pprof_pb LABEL unit)
podprof_test(pprof_delta_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_delta_test.c
             LIBS podprof_pprof LABEL unit)
podprof_test(pprof_go_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_go_test.c
             LIBS podprof_pprof LABEL integration GO_PROGRAMS TIMEOUT 900)
podprof_test(pprof_stream_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_stream_test.c
             LIBS podprof_pprof LABEL unit)
