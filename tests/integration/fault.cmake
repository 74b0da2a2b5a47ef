# Fault injection (tests/integration/fault_*.c): both roles against peers that are
# killed, restarted, stopped and made to fail, and podprof itself SIGKILLed; every
# profile accounted for, memory, descriptors and threads bounded. About a minute
# and a half each.
foreach(t fault_peers fault_kill)
  podprof_test(test_${t}
               SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c
                       ${CMAKE_CURRENT_LIST_DIR}/fault_common.c
                       ${CMAKE_CURRENT_LIST_DIR}/fault_fixture.c
                       ${CMAKE_CURRENT_LIST_DIR}/k8s_fake.c
                       ${CMAKE_CURRENT_LIST_DIR}/../unit/uploader_fake.c
               LIBS podprof_agent PkgConfig::CJSON PkgConfig::CURL Threads::Threads
               LABEL integration GO_PROGRAMS TIMEOUT 400)
  target_include_directories(test_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
endforeach()
