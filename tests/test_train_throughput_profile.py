"""The kernel attribution of `benchmarks/train_throughput.py --profile`, on hand-built profiler events (the
real ones need a GPU): each kernel is traced back to the op that launched it and that op's callers."""

from types import SimpleNamespace

from scripts import load_script

throughput = load_script("benchmarks/train_throughput.py", "train_throughput_benchmark")

COPY = "void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl_nocast<copy>>"


def _event(name, parent=None, shapes=(), kernels=()):
    return SimpleNamespace(name=name, cpu_parent=parent, input_shapes=list(shapes),
                           kernels=[SimpleNamespace(name=k, duration=us) for k, us in kernels])


def test_kernels_are_traced_to_the_op_that_launched_them_with_its_callers_and_shapes():
    backward = _event("CompiledFunctionBackward")
    conv_bw = _event("aten::convolution_backward", backward)
    big = _event("aten::copy_", _event("aten::contiguous", conv_bw), [[32, 128, 256, 256], [32, 128, 256, 256]],
                 kernels=[(COPY, 400.0)])
    small = _event("aten::copy_", _event("aten::to"), [[16, 3]], kernels=[(COPY, 10.0), ("other", 99.0)])
    events = [backward, conv_bw, big, big, small, _event("aten::mm", kernels=[("gemm", 50.0)])]

    found = throughput.kernel_launchers(events, [COPY], steps=2)

    assert list(found) == [COPY]  # only the kernels asked for
    (ms, calls, launcher), (ms_small, calls_small, launcher_small) = found[COPY]
    assert (ms, calls) == (0.4, 1.0)  # two launches of 400 us over 2 iterations
    assert launcher == ("aten::copy_ [[32, 128, 256, 256], [32, 128, 256, 256]] < aten::contiguous"
                        " < aten::convolution_backward < CompiledFunctionBackward")
    assert (ms_small, calls_small) == (0.005, 0.5) and launcher_small == "aten::copy_ [[16, 3]] < aten::to"


def test_the_caller_chain_is_cut_after_the_asked_number_of_callers():
    parent = None
    for depth in range(10):
        parent = _event(f"level{depth}", parent)
    leaf = _event("aten::add", parent, kernels=[("k", 1.0)])
    (_, _, launcher), = throughput.kernel_launchers([leaf], ["k"], steps=1, callers=2)["k"]
    assert launcher == "aten::add [] < level9 < level8"


def test_eager_kernels_and_copies_are_the_kinds_traced_back():
    assert throughput.kernel_kind(COPY) in throughput.UNEXPLAINED_KINDS
    assert throughput.kernel_kind("triton_poi_fused_add_0") not in throughput.UNEXPLAINED_KINDS
    assert throughput.kernel_kind("sm90_xmma_fprop_implicit_gemm_bf16") not in throughput.UNEXPLAINED_KINDS
