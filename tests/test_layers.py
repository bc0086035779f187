"""House rules of the code base, checked statically by reading the source with ``ast``.

Why these rules exist:

* ``netcode/`` is game-agnostic and pygame-free. It talks to a game only through
  ``netcode.game_api``, so it can be reused for another game and tested headless (no display,
  no sound, no pygame at all). So it imports neither pygame nor anything else from this repo.
* Only ``netcode/transport.py`` touches sockets. Every session sends and receives through the
  ``Transport`` protocol, so a test can swap UDP for ``MemoryNetwork`` and run clients and a
  server in one process. A ``sendto`` anywhere else would quietly skip the in-memory network and
  the link conditioner.
* Only ``netcode/clock.py`` reads the time (and sleeps). Everything else gets ``now`` as an
  argument, so every session runs on a ``FakeClock`` and timeouts, RTT and jitter are
  reproducible in tests. pygame's own clock (``pygame.time``) counts as reading the time too.
* No import cycles. Layers stay layers, and any module can be imported (and tested) on its own.
* ``run_client.py`` and ``run_server.py`` stay thin. They parse flags and wire up importable
  modules, they don't import each other, and nothing in the packages imports them.
* pygame is imported only by the modules whose job is the window: ``game/render*.py``,
  ``game/controls.py`` and ``game/app*.py`` (the game window and the lab window). The
  simulation, the bots, the view and the headless loop then run without it.

Nothing here imports the modules under test. Each file is parsed once and the checks walk the
trees, so this runs in well under a second. Imports inside functions count. Imports under
``if TYPE_CHECKING:`` count for the layer rules (a dependency in the source is still a
dependency) but not for cycles, because they never run. Each checker takes a list of parsed
files, and the ``test_checker_*`` tests at the end feed it small made-up sources. That way a
checker that found nothing would fail there instead of passing quietly here.
"""
from __future__ import annotations

import ast
import fnmatch
import re
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("netcode", "game")
ENTRY_POINTS = ("run_client.py", "run_server.py")

TRANSPORT_FILE = "netcode/transport.py"
CLOCK_FILE = "netcode/clock.py"
PYGAME_FILES = ("game/render*.py", "game/controls.py", "game/app*.py")  # fnmatch patterns

#: The only sockets allowed outside the transport, as (file, enclosing function). Listed by
#: function, so a new socket anywhere else, even elsewhere in the same file, still fails.
SOCKET_ALLOW_LIST = {
    # The LAN-address lookup opens an AF_INET/SOCK_DGRAM socket only as a handle for
    # ioctl(SIOCGIFADDR), to ask the kernel each interface's IPv4 address. It is never bound
    # and never sends or receives. The datagram-I/O check below still applies to it.
    ("game/server_app.py", "_linux_interface_addresses"),
}

#: Everything that makes a socket object (or a server/protocol that owns one).
SOCKET_CONSTRUCTORS = frozenset({
    "socket.socket", "socket.SocketType", "socket.create_connection", "socket.create_server",
    "socket.socketpair", "socket.fromfd", "socket.fromshare",
    "asyncio.DatagramProtocol", "socketserver.UDPServer", "socketserver.TCPServer",
})
#: Socket methods that nothing in this code base except a socket has. Transport's own API is
#: send/receive/wait, so these are forbidden on any receiver outside the transport.
SOCKET_ONLY_METHODS = frozenset({
    "sendto", "sendall", "sendmsg", "sendfile",
    "recv", "recvfrom", "recv_into", "recvfrom_into", "recvmsg", "recvmsg_into",
})
#: ``send`` is also ``Transport.send``, so it counts only on something that is clearly a socket:
#: a name bound from a socket constructor in that file, or one called ``sock``/``socket``.
SOCKET_LIKE_NAME = re.compile(r"(^|_)(sock|socket)$")
#: Waiting on sockets is ``Transport.wait``'s job.
SOCKET_WAIT_MODULES = frozenset({"select", "selectors"})

#: Reading the time or sleeping. The whole ``time`` module is the clock's (any import of it is
#: flagged). ``datetime`` is fine for formatting, but not for asking what time it is.
TIME_MODULE = "time"
DATETIME_READERS = frozenset({
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today",
    "datetime.date.today",
})
PYGAME_TIME = "pygame.time"


# ---------------------------------------------------------------------------------------------
# Parsing: one SourceFile per .py file, with its imports and the dotted names it uses.


@dataclass(frozen=True)
class Import:
    line: int
    text: str  # the statement as written, for messages
    modules: tuple[str, ...]  # absolute modules it may load: `from a import b` -> ("a", "a.b")
    is_from: bool  # `from base import names`: modules[0] is the base, the rest base.name each
    type_checking_only: bool
    climbs_out: bool  # relative import that goes above the importer's top-level package


@dataclass(frozen=True)
class Reference:
    line: int
    qualname: str  # e.g. "pygame.time.get_ticks", resolved through the file's import aliases
    function: str | None  # enclosing function/class qualname, None at module level


@dataclass(frozen=True)
class MethodCall:
    line: int
    method: str
    receiver: str  # source text of the object the method is called on
    receiver_is_socket: bool
    function: str | None


@dataclass
class SourceFile:
    path: str  # relative, with forward slashes
    module: str  # dotted module name, e.g. "game.server_app", "run_client"
    is_package: bool
    imports: list[Import] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    calls: list[MethodCall] = field(default_factory=list)

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(tree: ast.AST):
    """Yield ``(node, enclosing function qualname or None, inside if TYPE_CHECKING)``."""
    stack: list[tuple[ast.AST, str | None, bool]] = [(tree, None, False)]
    while stack:
        node, func, tc = stack.pop()
        yield node, func, tc
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, func, True) for child in node.body)
            stack.extend((child, func, tc) for child in node.orelse)
            continue
        inner = func
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = f"{func}.{node.name}" if func else node.name
        stack.extend((child, inner, tc) for child in ast.iter_child_nodes(node))


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _relative_base(sf: SourceFile, level: int, module: str | None) -> tuple[str, bool]:
    """Resolve ``from <level dots><module> import``: (absolute base, climbs out of the top package)."""
    if level == 0:
        return module or "", False
    package = sf.module.split(".") if sf.is_package else sf.module.split(".")[:-1]
    if level - 1 >= len(package):  # beyond the top-level package (or no package at all)
        return module or "", True
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else [])), False


def parse_source(path: str, text: str) -> SourceFile:
    """Parse one file. ``path`` is relative to the repo root (it names the module)."""
    parts = path[:-3].split("/")
    is_package = parts[-1] == "__init__"
    module = ".".join(parts[:-1] if is_package else parts)
    sf = SourceFile(path, module, is_package)
    tree = ast.parse(text, filename=path)
    nodes = list(_walk(tree))
    aliases: dict[str, str] = {}  # local name -> qualified name (file-wide: good enough here)

    for node, func, tc in nodes:
        text_of = ast.unparse(node) if isinstance(node, (ast.Import, ast.ImportFrom)) else ""
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
                sf.imports.append(Import(node.lineno, text_of, (alias.name,), False, tc, False))
        elif isinstance(node, ast.ImportFrom):
            base, climbs = _relative_base(sf, node.level, node.module)
            modules = (base,) + tuple(f"{base}.{a.name}" if base else a.name for a in node.names if a.name != "*")
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
            sf.imports.append(Import(node.lineno, text_of, modules, True, tc, climbs))

    # Dynamic imports with a literal name: importlib.import_module("x"), __import__("x").
    for node, func, tc in nodes:
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            name = _dotted(node.func)
            if name is not None and (name == "__import__" or _resolve(name, aliases) == "importlib.import_module"):
                target = node.args[0].value
                climbs = False
                if target.startswith("."):
                    level = len(target) - len(target.lstrip("."))
                    target, climbs = _relative_base(sf, level, target.lstrip(".") or None)
                sf.imports.append(Import(node.lineno, ast.unparse(node),
                                         (target,), False, tc, climbs))

    # Names bound to socket objects in this file: `x = socket.socket(...)`, `with ... as x`.
    socket_names: set[str] = set()
    for node, _, _ in nodes:
        pairs: list[tuple[ast.AST | None, ast.AST | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign):
            pairs = [(node.target, node.value)]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            pairs = [(item.optional_vars, item.context_expr) for item in node.items]
        for target, value in pairs:
            if target is not None and isinstance(value, ast.Call):
                name = _dotted(value.func)
                if name is not None and _resolve(name, aliases) in SOCKET_CONSTRUCTORS:
                    socket_names.add(ast.unparse(target))

    # Outermost dotted names only (`a.b.c`, not also `a.b` and `a`), resolved through aliases.
    inner = {id(n.value) for n, _, _ in nodes if isinstance(n, ast.Attribute)}
    for node, func, _ in nodes:
        if isinstance(node, (ast.Name, ast.Attribute)) and id(node) not in inner \
                and isinstance(getattr(node, "ctx", None), ast.Load):
            name = _dotted(node)
            if name is not None and name.split(".")[0] in aliases:
                sf.references.append(Reference(node.lineno, _resolve(name, aliases), func))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = ast.unparse(node.func.value)
            receiver_name = _dotted(node.func.value)
            is_module = receiver_name is not None and receiver_name.split(".")[0] in aliases
            last = receiver_name.split(".")[-1] if receiver_name else ""
            is_socket = not is_module and (receiver in socket_names or bool(SOCKET_LIKE_NAME.search(last)))
            sf.calls.append(MethodCall(node.lineno, node.func.attr, receiver, is_socket, func))
    return sf


def _resolve(name: str, aliases: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    base = aliases.get(head, head)
    return f"{base}.{rest}" if rest else base


def _top(module: str) -> str:
    return module.split(".")[0]


def _file_list() -> list[str]:
    paths = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    paths += [ROOT / name for name in ENTRY_POINTS]
    return [p.relative_to(ROOT).as_posix() for p in paths if p.exists()]


@lru_cache(maxsize=1)
def project_files() -> tuple[SourceFile, ...]:
    return tuple(parse_source(path, (ROOT / path).read_text(encoding="utf-8")) for path in _file_list())


def _local_tops() -> frozenset[str]:
    """Top-level names that belong to this repo (packages and root modules)."""
    tops = {p.stem for p in ROOT.glob("*.py")}
    tops |= {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return frozenset(tops | set(PACKAGES))


def _in_packages(sf: SourceFile) -> bool:
    return sf.top in PACKAGES


def _fail(rule: str, violations: list[str]) -> None:
    if violations:
        pytest.fail(f"{rule}\n  " + "\n  ".join(sorted(set(violations), key=_sort_key)), pytrace=False)


def _sort_key(message: str) -> tuple[str, int, str]:
    path, line, rest = (message.split(":", 2) + ["", ""])[:3]
    return path, int(line) if line.isdigit() else 0, rest


# ---------------------------------------------------------------------------------------------
# The checkers: each takes the parsed files and returns "path:line: what is wrong" messages.


def check_netcode_is_standalone(files, local_tops=frozenset(PACKAGES)) -> list[str]:
    """Rule 1: netcode/ imports neither pygame nor anything else from this repo."""
    out = []
    for sf in files:
        if sf.top != "netcode":
            continue
        for imp in sf.imports:
            if imp.climbs_out:
                out.append(f"{sf.path}:{imp.line}: relative import climbs out of the netcode package: {imp.text}")
            for module in imp.modules:
                top = _top(module)
                if top == "pygame":
                    out.append(f"{sf.path}:{imp.line}: netcode must stay pygame-free: {imp.text}")
                elif top in local_tops and top != "netcode":
                    out.append(f"{sf.path}:{imp.line}: netcode must not depend on {top}/: {imp.text}")
    return out


def check_only_transport_touches_sockets(files, allow_list=SOCKET_ALLOW_LIST) -> list[str]:
    """Rule 2: only the transport creates sockets, sends or receives datagrams, or waits on sockets."""
    out = []
    for sf in files:
        if sf.path == TRANSPORT_FILE:
            continue
        for ref in sf.references:
            if ref.qualname in SOCKET_CONSTRUCTORS and (sf.path, ref.function) not in allow_list:
                where = f"in {ref.function}()" if ref.function else "at module level"
                out.append(f"{sf.path}:{ref.line}: {ref.qualname} {where}: only {TRANSPORT_FILE} opens "
                           f"sockets (or add a justified entry to SOCKET_ALLOW_LIST)")
        for call in sf.calls:
            if call.method in SOCKET_ONLY_METHODS or (call.method == "send" and call.receiver_is_socket):
                out.append(f"{sf.path}:{call.line}: {call.receiver}.{call.method}(...): only {TRANSPORT_FILE} "
                           f"sends or receives datagrams; go through a Transport")
        for imp in sf.imports:
            for module in imp.modules:
                if _top(module) in SOCKET_WAIT_MODULES:
                    out.append(f"{sf.path}:{imp.line}: {imp.text}: waiting on sockets is Transport.wait's job")
    return out


def check_socket_allow_list_is_used(files, allow_list=SOCKET_ALLOW_LIST) -> list[str]:
    """Every allow-list entry still matches a socket constructor, so the list cannot rot."""
    used = {(sf.path, ref.function) for sf in files for ref in sf.references if ref.qualname in SOCKET_CONSTRUCTORS}
    return [f"{path}:0: SOCKET_ALLOW_LIST entry ({path}, {func}) no longer creates a socket; remove it"
            for path, func in sorted(allow_list) if (path, func) not in used]


def check_only_clock_reads_time(files) -> list[str]:
    """Rule 3: only netcode/clock.py reads the time or sleeps; pygame.time counts as reading it."""
    out = []
    for sf in files:
        if sf.path == CLOCK_FILE:
            continue
        for imp in sf.imports:
            for module in imp.modules:
                if module == TIME_MODULE or module.startswith(TIME_MODULE + "."):
                    out.append(f"{sf.path}:{imp.line}: {imp.text}: only {CLOCK_FILE} reads the time or sleeps; "
                               f"take `now` as an argument or use netcode.clock")
                elif module == PYGAME_TIME or module.startswith(PYGAME_TIME + "."):
                    out.append(f"{sf.path}:{imp.line}: {imp.text}: pygame's clock reads the time; "
                               f"use netcode.clock instead")
                elif module in DATETIME_READERS:
                    out.append(f"{sf.path}:{imp.line}: {imp.text}: reads the wall clock; use netcode.clock")
        for ref in sf.references:
            name = ref.qualname
            if name == TIME_MODULE or name.startswith(TIME_MODULE + "."):
                out.append(f"{sf.path}:{ref.line}: {name}: only {CLOCK_FILE} reads the time or sleeps")
            elif name == PYGAME_TIME or name.startswith(PYGAME_TIME + "."):
                out.append(f"{sf.path}:{ref.line}: {name}: pygame's clock reads the time; use netcode.clock")
            elif any(name == r or name.startswith(r + ".") for r in DATETIME_READERS):
                out.append(f"{sf.path}:{ref.line}: {name}: reads the wall clock; use netcode.clock")
    return out


def import_graph(files) -> dict[str, dict[str, tuple[str, int]]]:
    """module -> {imported module: (file, line)}, over the given files, without TYPE_CHECKING imports."""
    known = {sf.module for sf in files}
    graph: dict[str, dict[str, tuple[str, int]]] = {sf.module: {} for sf in files}
    for sf in files:
        own_ancestors = {".".join(sf.module.split(".")[:i]) for i in range(1, sf.module.count(".") + 1)}
        for imp in sf.imports:
            if imp.type_checking_only:
                continue
            targets = set()
            if imp.is_from:  # `from pkg import name`: the submodule pkg.name if there is one, else pkg
                base = imp.modules[0]
                for module in imp.modules[1:]:
                    targets.add(module if module in known else base)
            else:
                targets.add(imp.modules[0])
            targets &= known
            # Importing a.b.c also runs a and a.b (except the importer's own packages).
            for module in list(targets):
                parts = module.split(".")
                targets |= {".".join(parts[:i]) for i in range(1, len(parts))} & known
            for target in targets - own_ancestors - {sf.module}:
                graph[sf.module].setdefault(target, (sf.path, imp.line))
            if sf.module in targets:  # `import` of itself
                graph[sf.module].setdefault(sf.module, (sf.path, imp.line))
    return graph


def find_cycles(graph: dict[str, dict[str, tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components with a cycle (Tarjan), each as one concrete cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, {}):
                    components.append(sorted(component))

    cycles = []
    for component in sorted(components):
        members, start = set(component), component[0]
        previous: dict[str, str] = {}
        queue = deque([start])
        while queue:  # shortest path start -> ... -> start inside the component
            node = queue.popleft()
            if start in graph[node] and (node != start or not previous):
                path = [start]
                while node != start:
                    path.append(node)
                    node = previous[node]
                cycles.append([start] + list(reversed(path[1:])) + [start])
                break
            for child in sorted(graph[node]):
                if child in members and child not in previous and child != start:
                    previous[child] = node
                    queue.append(child)
    return cycles


def check_no_import_cycles(files) -> list[str]:
    """Rule 4: the runtime import graph of game/ and netcode/ has no cycles."""
    graph = import_graph([sf for sf in files if _in_packages(sf)])
    out = []
    for cycle in find_cycles(graph):
        hops = [f"{a} -> {b} ({graph[a][b][0]}:{graph[a][b][1]})" for a, b in zip(cycle, cycle[1:])]
        first_file, first_line = graph[cycle[0]][cycle[1]]
        out.append(f"{first_file}:{first_line}: import cycle: " + ", ".join(hops))
    return out


def check_entry_points_stay_thin(files) -> list[str]:
    """Rule 5: run_client and run_server don't import each other, and the packages import neither."""
    entry_modules = {name[:-3] for name in ENTRY_POINTS}
    out = []
    for sf in files:
        for imp in sf.imports:
            for module in imp.modules:
                top = _top(module)
                if top in entry_modules and top != sf.module:
                    who = "entry points must not import each other" if sf.module in entry_modules \
                        else "the packages must not import an entry point"
                    out.append(f"{sf.path}:{imp.line}: {imp.text}: {who}; move shared code into game/ or netcode/")
    return out


def check_pygame_only_where_drawn(files) -> list[str]:
    """Rule 6: only game/render*.py, game/controls.py and game/app*.py import pygame."""
    out = []
    for sf in files:
        if any(fnmatch.fnmatchcase(sf.path, pattern) for pattern in PYGAME_FILES):
            continue
        for imp in sf.imports:
            if any(_top(m) == "pygame" for m in imp.modules):
                out.append(f"{sf.path}:{imp.line}: {imp.text}: only {', '.join(PYGAME_FILES)} may import pygame")
    return out


# ---------------------------------------------------------------------------------------------
# The rules, on the real code.


def test_the_scan_sees_the_code_base():
    paths = {sf.path for sf in project_files()}
    expected = {TRANSPORT_FILE, CLOCK_FILE, "game/server_app.py", "game/app.py", *ENTRY_POINTS}
    assert expected <= paths, f"files missing from the scan: {sorted(expected - paths)}"
    assert sum(sf.top == "netcode" for sf in project_files()) >= 10
    assert sum(sf.top == "game" for sf in project_files()) >= 5


def test_netcode_imports_neither_pygame_nor_the_rest_of_the_repo():
    _fail("netcode/ must stay game-agnostic and pygame-free:",
          check_netcode_is_standalone(project_files(), _local_tops()))


def test_only_the_transport_opens_sockets_and_moves_datagrams():
    _fail(f"Only {TRANSPORT_FILE} touches sockets:", check_only_transport_touches_sockets(project_files()))


def test_socket_allow_list_is_not_stale():
    _fail("Stale socket allow-list:", check_socket_allow_list_is_used(project_files()))


def test_only_the_clock_reads_the_time():
    _fail(f"Only {CLOCK_FILE} reads the time:", check_only_clock_reads_time(project_files()))


def test_no_import_cycles_in_game_and_netcode():
    _fail("Import cycles:", check_no_import_cycles(project_files()))


def test_run_client_and_run_server_do_not_import_each_other():
    _fail("Entry points stay thin:", check_entry_points_stay_thin(project_files()))


def test_only_render_controls_and_app_import_pygame():
    _fail("pygame outside the drawing modules:", check_pygame_only_where_drawn(project_files()))


# ---------------------------------------------------------------------------------------------
# The checkers themselves, on made-up sources: each must catch what it is there to catch.


def _files(**sources: str) -> list[SourceFile]:
    """``_files(**{"netcode/x.py": "import pygame"})`` -> parsed files."""
    return [parse_source(path, text) for path, text in sources.items()]


def test_checker_netcode_standalone_catches_every_import_form():
    found = check_netcode_is_standalone(_files(**{
        "netcode/a.py": "import pygame.display\n",
        "netcode/b.py": "from game.sim import UP\n",
        "netcode/c.py": "def f():\n    from pygame import Rect\n",
        "netcode/d.py": "from .. import game\n",
        "netcode/e.py": "from .transport import Address\nimport msgpack\n",
        "netcode/f.py": "import importlib\nm = importlib.import_module('game.render')\n",
    }), local_tops=frozenset({"netcode", "game"}))
    lines = {m.split(": ")[0] for m in found}
    assert lines == {"netcode/a.py:1", "netcode/b.py:1", "netcode/c.py:2", "netcode/d.py:1", "netcode/f.py:2"}, found


def test_checker_sockets_allow_only_the_listed_probe_and_no_io():
    probe = ("import socket\n"
             "def probe_addresses():\n"
             "    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:\n"
             "        probe.send(b'x')\n"
             "    return socket.inet_ntoa(b'1234'), socket.gethostbyname('h')\n"
             "def other():\n"
             "    return socket.socket()\n")
    found = check_only_transport_touches_sockets(_files(**{
        "game/x.py": probe,
        "netcode/y.py": "from socket import socket as S\ns = S()\n",
        "netcode/z.py": ("def f(t, sock):\n    t.send(b'', ('h', 1), 0.0)\n"  # Transport.send: fine
                         "    sock.send(b'')\n    t.inner.sendto(b'', 1)\n"),
        "netcode/w.py": "import select\n",
        TRANSPORT_FILE: "import socket\ns = socket.socket()\ns.sendto(b'', 1)\ns.recvfrom(9)\n",
    }), allow_list={("game/x.py", "probe_addresses")})
    lines = {m.split(": ")[0] for m in found}
    assert lines == {"game/x.py:4", "game/x.py:7", "netcode/y.py:2", "netcode/z.py:3", "netcode/z.py:4",
                     "netcode/w.py:1"}, found
    stale = check_socket_allow_list_is_used(_files(**{"game/x.py": "import socket\n"}),
                                            allow_list={("game/x.py", "probe_addresses")})
    assert stale and "no longer creates a socket" in stale[0]


def test_checker_clock_catches_time_datetime_and_pygame_time():
    found = check_only_clock_reads_time(_files(**{
        "netcode/a.py": "import time\nx = time.monotonic()\n",
        "netcode/b.py": "from time import perf_counter as pc\n",
        "game/c.py": "from datetime import datetime\nd = datetime.now()\n",
        "game/d.py": "import pygame as pg\nclock = pg.time.Clock()\n",
        "game/e.py": "from pygame import time\n",
        "game/f.py": "import datetime\ns = datetime.date(2024, 1, 1).isoformat()\n",
        CLOCK_FILE: "import time\ntime.sleep(1)\n",
    }))
    lines = {m.split(": ")[0] for m in found}
    assert lines == {"netcode/a.py:1", "netcode/a.py:2", "netcode/b.py:1", "game/c.py:2", "game/d.py:2",
                     "game/e.py:1"}, found


def test_checker_cycles_resolves_relative_imports_and_skips_type_checking():
    files = _files(**{
        "game/__init__.py": "",
        "game/a.py": "from . import b\n",
        "game/b.py": "def f():\n    from .c import X\n",
        "game/c.py": "import game.a\n",
        "netcode/__init__.py": "",
        "netcode/p.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .q import Q\n",
        "netcode/q.py": "from .p import P\n",
    })
    found = check_no_import_cycles(files)
    assert len(found) == 1, found
    assert "game.a -> game.b (game/a.py:1), game.b -> game.c (game/b.py:2), game.c -> game.a (game/c.py:1)" \
        in found[0], found


def test_checker_entry_points_and_pygame():
    files = _files(**{
        "run_client.py": "import socket\nfrom run_server import main\n",
        "run_server.py": "def f():\n    import run_client\n",
        "game/sim.py": "from run_server import x\n",
        "game/render_extra.py": "import pygame\n",
        "game/view.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pygame\n",
        "game/app.py": "def f():\n    import pygame\n",
        "netcode/n.py": "import pygame\n",
    })
    thin = {m.split(": ")[0] for m in check_entry_points_stay_thin(files)}
    assert thin == {"run_client.py:2", "run_server.py:2", "game/sim.py:1"}, thin
    drawn = {m.split(": ")[0] for m in check_pygame_only_where_drawn(files)}
    assert drawn == {"game/view.py:3", "netcode/n.py:1"}, drawn
