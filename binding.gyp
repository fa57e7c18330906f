{
  "variables": {"sanitize%": 0},
  "targets": [
    {
      "target_name": "graftrec",
      "sources": [
        "native/addon.cc",
        "native/thread_pool.cc",
        "native/gemm.cc",
        "native/gemm_blas.cc",
        "native/gemm_builtin.cc",
        "native/conv1d.cc",
        "native/layernorm.cc",
        "native/activation.cc",
        "native/embedding.cc",
        "native/softmax_xent.cc",
        "native/sampled_softmax.cc",
        "native/negative_bce.cc",
        "native/adam.cc",
        "native/reduce.cc",
        "native/patch.cc",
        "native/pooling.cc",
        "native/contrastive.cc",
        "native/attention.cc",
        "native/dropout.cc",
        "native/gru.cc",
        "native/mpi.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-fexceptions", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-ldl", "-lpthread"],
      "conditions": [
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined,float-cast-overflow", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined,float-cast-overflow"]
        }]
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"]
      }
    }
  ]
}
