# k8s/ against the fake Kubernetes API server (tests/tools/fake_kube.py): convergence
# through faults, bad input and bounds, and `podprof targets` end to end.
foreach(t k8s_converge k8s_bad_input k8s_cli)
  podprof_test(test_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c
                                 ${CMAKE_CURRENT_LIST_DIR}/k8s_fake.c
               LIBS podprof_k8s PkgConfig::CJSON PkgConfig::CURL LABEL integration TIMEOUT 300)
endforeach()
