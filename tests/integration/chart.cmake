# The Helm chart and the container image, without a cluster, Docker or helm.
# chart_renderer builds tests/tools/helm_render (Go, sprig) once into the Go program
# cache shared by the plain and the sanitizer builds.
add_test(NAME chart_renderer
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/../tools/helm_render/build.sh
                 ${PODPROF_GO_CACHE}/helm_render)
set_tests_properties(chart_renderer PROPERTIES FIXTURES_SETUP chart_renderer
                     LABELS integration TIMEOUT 600)

set(chart_common ${CMAKE_CURRENT_LIST_DIR}/chart_common.c)
# rendering, schema, least privilege, kubectl --dry-run=client
podprof_test(test_chart SOURCES ${CMAKE_CURRENT_LIST_DIR}/chart.c ${chart_common}
             LIBS PkgConfig::CJSON LABEL integration TIMEOUT 300)
# the rendered pods' processes against the fake API server and the fake Coroot
podprof_test(test_chart_e2e SOURCES ${CMAKE_CURRENT_LIST_DIR}/chart_e2e.c ${chart_common}
             LIBS PkgConfig::CJSON LABEL integration GO_PROGRAMS TIMEOUT 300)
# the environment of a Coroot custom resource's agents configures podprof unchanged
podprof_test(test_chart_coroot SOURCES ${CMAKE_CURRENT_LIST_DIR}/chart_coroot.c ${chart_common}
             LIBS PkgConfig::CJSON LABEL integration GO_PROGRAMS TIMEOUT 300)
foreach(t test_chart test_chart_e2e test_chart_coroot)
  set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED chart_renderer)
endforeach()

# The Dockerfile, checked against this machine's packages and the README's build
# (fast, in the suite); the full check that runs its steps in debootstrapped Debian
# root file systems is label "image" (README: "Install with Helm").
add_test(NAME test_image_dockerfile
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/image_check.sh ${PROJECT_SOURCE_DIR}
                 $<TARGET_FILE:podprof>)
set_tests_properties(test_image_dockerfile PROPERTIES LABELS integration TIMEOUT 120)
add_test(NAME test_image_build
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/image_build.sh ${PROJECT_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/image-rootfs)
set_tests_properties(test_image_build PROPERTIES LABELS image TIMEOUT 3600 SKIP_RETURN_CODE 77)
