"""`use_gpu`: a flat index moves to the GPU when faiss-gpu sees one; HNSW stays on the CPU; off by setting.
faiss-gpu is optional and absent here, so the GPU side is a stand-in that records the call."""

import numpy as np

import qbank.index.dense as dense


class FakeGpuFaiss:
    IndexFlat = dense._faiss().IndexFlat

    def __init__(self, gpus: int) -> None:
        self.gpus, self.moved = gpus, []

    def StandardGpuResources(self):  # noqa: N802 - FAISS's name
        return object()

    def get_num_gpus(self):
        return self.gpus

    def index_cpu_to_gpu(self, res, device, index):
        self.moved.append((device, index))
        return "gpu-index"


def test_flat_index_moves_to_the_gpu_only_when_asked_and_present(monkeypatch):
    vecs = np.eye(4, dtype=np.float32)
    flat, hnsw = dense.build_ann(vecs, "flat", 8, 40), dense.build_ann(vecs, "hnsw", 8, 40)
    fake = FakeGpuFaiss(gpus=1)
    monkeypatch.setattr(dense, "_faiss", lambda: fake)
    assert dense.maybe_to_gpu(flat, True) == "gpu-index" and fake.moved == [(0, flat)]
    assert dense.maybe_to_gpu(hnsw, True) is hnsw  # FAISS has no GPU HNSW
    assert dense.maybe_to_gpu(flat, False) is flat
    monkeypatch.setattr(dense, "_faiss", lambda: FakeGpuFaiss(gpus=0))
    assert dense.maybe_to_gpu(flat, True) is flat


def test_without_faiss_gpu_nothing_moves():
    flat = dense.build_ann(np.eye(4, dtype=np.float32), "flat", 8, 40)
    assert dense.maybe_to_gpu(flat, True) is flat  # faiss-cpu has no StandardGpuResources
