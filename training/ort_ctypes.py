"""Run an ONNX model with the real ONNX Runtime C API through ctypes (no Python onnxruntime here).

Uses the same library and the same OrtApi slot indices as the engine
(engine/Sostenuto.Engine/Onnx/OrtApi.cs). Only float32 / int64 tensors, CPU,
one intra-op thread, ORT-allocated outputs whose shapes the caller states.
"""
import ctypes as C
import os

import numpy as np

DEFAULT_LIB = os.environ.get("SOSTENUTO_ORT", "/work/main/native/linux-x64/libonnxruntime.so.1")
API_VERSION = 17          # any version >= 17 has every slot used here; the library is 1.30
TYPES = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}
P = C.c_void_p


class Ort:
    def __init__(self, lib=DEFAULT_LIB):
        self.lib = C.CDLL(lib)
        self.lib.OrtGetApiBase.restype = C.POINTER(P)
        base = self.lib.OrtGetApiBase()
        get_api = C.CFUNCTYPE(P, C.c_uint32)(base[0])
        self.table = C.cast(get_api(API_VERSION), C.POINTER(P))
        self.err_msg = self.fn(2, C.c_char_p, P)
        env = P()
        self.check(self.fn(3, P, C.c_int, C.c_char_p, C.POINTER(P))(3, b"sostenuto-training", C.byref(env)))
        self.env = env
        mem = P()
        self.check(self.fn(69, P, C.c_int, C.c_int, C.POINTER(P))(0, 0, C.byref(mem)))
        self.mem = mem

    def fn(self, slot, restype, *argtypes):
        return C.CFUNCTYPE(restype, *argtypes)(self.table[slot])

    def check(self, status):
        if status:
            raise RuntimeError("onnxruntime: " + self.err_msg(status).decode())

    def session(self, path):
        opts = P()
        self.check(self.fn(10, P, C.POINTER(P))(C.byref(opts)))
        self.check(self.fn(24, P, P, C.c_int)(opts, 1))
        sess = P()
        self.check(self.fn(7, P, P, C.c_char_p, P, C.POINTER(P))(self.env, path.encode(), opts, C.byref(sess)))
        return sess

    def run(self, sess, feeds, outputs):
        """feeds: {name: ndarray}; outputs: [(name, shape)] -> [ndarray]."""
        keep = []
        in_vals = (P * len(feeds))()
        in_names = (C.c_char_p * len(feeds))()
        create = self.fn(49, P, P, P, C.c_size_t, C.POINTER(C.c_int64), C.c_size_t, C.c_int, C.POINTER(P))
        for i, (name, arr) in enumerate(feeds.items()):
            arr = np.ascontiguousarray(arr)
            shape = (C.c_int64 * arr.ndim)(*arr.shape)
            keep += [arr, shape]
            v = P()
            self.check(create(self.mem, arr.ctypes.data_as(P), arr.nbytes, shape, arr.ndim, TYPES[arr.dtype], C.byref(v)))
            in_vals[i] = v
            in_names[i] = name.encode()
        out_names = (C.c_char_p * len(outputs))(*[n.encode() for n, _ in outputs])
        out_vals = (P * len(outputs))()
        run = self.fn(9, P, P, P, C.POINTER(C.c_char_p), C.POINTER(P), C.c_size_t, C.POINTER(C.c_char_p),
                      C.c_size_t, C.POINTER(P))
        self.check(run(sess, None, in_names, in_vals, len(feeds), out_names, len(outputs), out_vals))
        data_fn = self.fn(51, P, P, C.POINTER(P))
        release = self.fn(96, None, P)
        res = []
        for (name, shape), v in zip(outputs, out_vals):
            ptr = P()
            self.check(data_fn(v, C.byref(ptr)))
            n = int(np.prod(shape))
            res.append(np.ctypeslib.as_array(C.cast(ptr, C.POINTER(C.c_float)), (n,)).copy().reshape(shape))
            release(v)
        for v in in_vals:
            release(v)
        return res
