"""The course runs offline: reglib and the notebooks open no network connection."""

import socket
import subprocess
import sys
import textwrap

import nbformat
import pytest

from reglib.notebooks import cell_error, execute


def test_guard_is_active_in_this_process():
    with pytest.raises(ConnectionRefusedError, match="blocked"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_guard_allows_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    client.connect(server.getsockname())
    client.close()
    server.close()


def test_reglib_loads_data_and_trains_with_sockets_blocked(tmp_path):
    """A fresh process (empty data cache) generates MNIST-1D and trains, with the guard on."""
    code = textwrap.dedent("""
        import socket
        assert getattr(socket, "NETWORK_BLOCKED_FOR_TESTS", False), "guard not loaded"
        from reglib.data import load_mnist1d, load_digits, load_breast_cancer, load_diabetes
        from reglib.models import MLP
        from reglib.train import fit
        d = load_mnist1d()
        load_digits(); load_breast_cancer(); load_diabetes()
        fit(MLP(40, 10), d.train, d.val, epochs=1, progress=False)
        print("ok")
    """)
    env = {**__import__("os").environ, "TMPDIR": str(tmp_path)}  # so the MNIST-1D cache starts empty
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
    assert any(p.name.startswith("mnist1d-") for p in (tmp_path / "reglib-cache").iterdir())


def test_guard_is_active_in_notebook_kernels(tmp_path):
    """Kernels started by the suite (as nbval's are) cannot reach the network."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=1)")]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    executed, _ = execute(path, allow_errors=True, timeout=120)
    err = cell_error(executed.cells[0])
    assert err is not None and err[0] == "ConnectionRefusedError", err
