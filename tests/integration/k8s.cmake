# k8s/ against the fake Kubernetes API server (tests/tools/fake_kube.py): convergence
# through faults, bad input and bounds, `podprof targets` end to end, and the load
# discovery puts on the API server (requests counted per resource).
foreach(t k8s_converge k8s_bad_input k8s_cli k8s_load)
  podprof_test(test_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c
                                 ${CMAKE_CURRENT_LIST_DIR}/k8s_fake.c
               LIBS podprof_k8s PkgConfig::CJSON PkgConfig::CURL LABEL integration TIMEOUT 300)
endforeach()
