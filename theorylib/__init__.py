"""theorylib: closed forms (``theory``), simulators (``sim``) and machine-checked claims for
the book *Solvable Learning Dynamics*.

``theory`` and ``sim`` are independent by design: closed forms never call the simulator and
the simulator never uses a closed form; only chapters and :mod:`theorylib.checks` compare them.
"""
__version__ = "0.1.0"
