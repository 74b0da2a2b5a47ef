# Security guarantees of SECURITY.md that a test can check: force mode's single write,
# hostile names from pods and processes, secrets kept out of every output, TLS
# verification, the read-only HTTP server end to end.
foreach(t security_force security_inputs security_secrets)
  podprof_test(test_${t}
               SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c
                       ${CMAKE_CURRENT_LIST_DIR}/fault_common.c
                       ${CMAKE_CURRENT_LIST_DIR}/k8s_fake.c
                       ${CMAKE_CURRENT_LIST_DIR}/../unit/uploader_fake.c
               LIBS podprof_agent podprof_profiler PkgConfig::CJSON PkgConfig::CURL
                    Threads::Threads
               LABEL integration GO_PROGRAMS TIMEOUT 300)
  target_include_directories(test_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
endforeach()
