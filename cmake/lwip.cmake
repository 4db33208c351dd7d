# lwIP 2.1.3 from Debian's liblwip-dev, found through pkg-config, as the baseline beside
# quasi: quasi-bench-spec's udp_sendto row (bench/) and quasi-perf --baseline lwip
# (apps/perf_lwip.cpp). ON means "when found": without lwIP both build and say so.
# Sets LWIP_FOUND and the imported target PkgConfig::LWIP (lwIP's include directory, its
# lwipopts.h and arch/ included, reaches only the files that link it).
option(QUASI_BENCH_LWIP "Measure lwIP beside quasi (quasi-bench-spec, quasi-perf) when liblwip-dev is installed" ON)
if(QUASI_BENCH_LWIP)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LWIP QUIET IMPORTED_TARGET lwip)
  endif()
  if(LWIP_FOUND)
    message(STATUS "lwIP ${LWIP_VERSION} found: quasi-bench-spec and quasi-perf measure it")
  else()
    message(STATUS "lwIP not found (liblwip-dev): its baseline rows are not built")
  endif()
endif()
