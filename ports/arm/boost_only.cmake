# Boost.Intrusive for cross builds: header-only, but it lives in /usr/include, which a
# cross compiler must not search (the host's libc headers are there too). Target
# Boost::headers points at a directory holding nothing but a `boost` link to the host's
# Boost headers.
set(QUASI_BOOST_ONLY ${CMAKE_BINARY_DIR}/boost-only)
file(MAKE_DIRECTORY ${QUASI_BOOST_ONLY})
file(CREATE_LINK /usr/include/boost ${QUASI_BOOST_ONLY}/boost SYMBOLIC)
add_library(quasi_boost_headers INTERFACE)
target_include_directories(quasi_boost_headers SYSTEM INTERFACE ${QUASI_BOOST_ONLY})
add_library(Boost::headers ALIAS quasi_boost_headers)

# CLI11 (the apps' command lines) likewise: header-only, in /usr/include.
set(QUASI_CLI11_ONLY ${CMAKE_BINARY_DIR}/cli11-only)
file(MAKE_DIRECTORY ${QUASI_CLI11_ONLY})
file(CREATE_LINK /usr/include/CLI ${QUASI_CLI11_ONLY}/CLI SYMBOLIC)
add_library(quasi_cli11_headers INTERFACE)
target_include_directories(quasi_cli11_headers SYSTEM INTERFACE ${QUASI_CLI11_ONLY})
add_library(CLI11::CLI11 ALIAS quasi_cli11_headers)
