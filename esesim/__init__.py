"""esesim: the simulated ESE engine and the simulated Windows host for esent.backup.

Not part of the Galaxy collection. It exists so that the controller side and the ESE call
sequences can be proven without Windows; nothing it measures is a Windows figure.
"""

__version__ = "0.1.0"
