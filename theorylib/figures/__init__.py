"""The book's figures, one module per chapter (``theorylib.figures.ch01_deep_linear``, ...).

Each function draws one numbered figure of a chapter from data the chapter computed (a claim's
``Result.data`` or arrays it passes in), in the style of :mod:`theorylib.plotting`, and returns
the matplotlib Figure. A chapter's figure cell is then one call. Figures compare theory and
simulation but compute neither: they only draw what they are given (or call the closed forms
and the simulator for curves that are shown, never for a check).
"""
