# dealwire_proto_library(NAME name PROTO_ROOT dir PROTOS files...)
#
# Generates C++ message and gRPC service code for PROTOS (paths relative to
# PROTO_ROOT) into the build tree and compiles all of it into ONE static
# library target, so the slow generated code is compiled once and reused.
function(dealwire_proto_library)
  cmake_parse_arguments(ARG "" "NAME;PROTO_ROOT" "PROTOS" ${ARGN})
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/gen")
  file(MAKE_DIRECTORY "${out_dir}")
  get_target_property(grpc_plugin gRPC::grpc_cpp_plugin LOCATION)
  set(sources "")
  foreach(proto IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem "${proto}")
    set(outs
      "${out_dir}/${stem}.pb.cc" "${out_dir}/${stem}.pb.h"
      "${out_dir}/${stem}.grpc.pb.cc" "${out_dir}/${stem}.grpc.pb.h")
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc
        -I "${ARG_PROTO_ROOT}"
        --cpp_out "${out_dir}"
        --grpc_out "${out_dir}"
        --plugin=protoc-gen-grpc=${grpc_plugin}
        "${ARG_PROTO_ROOT}/${proto}"
      DEPENDS "${ARG_PROTO_ROOT}/${proto}" protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND sources ${outs})
  endforeach()
  add_library(${ARG_NAME} STATIC ${sources})
  # Generated headers are included as <dealwire/v1/x.pb.h>; SYSTEM keeps their
  # warnings out of our builds.
  target_include_directories(${ARG_NAME} SYSTEM PUBLIC "${out_dir}")
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf gRPC::grpc++)
endfunction()
