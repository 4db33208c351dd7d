# Header-only host libraries for cross builds: they live in /usr/include, which a cross
# compiler must not search (the host's libc headers are there too). Each stand-in target
# points at a directory holding nothing but a link to the host's headers of that library.
function(quasi_host_headers name subdir target)
  set(dir ${CMAKE_BINARY_DIR}/${name}-only)
  file(MAKE_DIRECTORY ${dir})
  file(CREATE_LINK /usr/include/${subdir} ${dir}/${subdir} SYMBOLIC)
  add_library(quasi_${name}_headers INTERFACE)
  target_include_directories(quasi_${name}_headers SYSTEM INTERFACE ${dir})
  add_library(${target} ALIAS quasi_${name}_headers)
endfunction()

quasi_host_headers(boost boost Boost::headers)  # Boost.Intrusive
quasi_host_headers(cli11 CLI CLI11::CLI11)      # the apps' command lines
