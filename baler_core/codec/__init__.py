"""Stage ``codec``: composition only. ``compress_table`` and ``compress_field`` chain the stages (model
inference, column coding, the container) and ``decompress`` runs them backwards; what each stage does lives in
``coding``, ``models`` and ``format``.

May import: ``errors``, ``io``, ``prep``, ``coding``, ``format``, ``models`` (never ``training``, ``evaluation``,
``pipeline`` or ``cli``).
"""

from __future__ import annotations

from baler_core.codec.decompress import MAX_EXPANSION, decompress, inner_reader, iter_decompress
from baler_core.codec.field import compress_field
from baler_core.codec.table import compress_table
from baler_core.coding.options import CompressionOptions
from baler_core.format.inspect import column_costs, file_info

__all__ = ["MAX_EXPANSION", "CompressionOptions", "column_costs", "compress_field", "compress_table", "decompress",
           "file_info", "inner_reader", "iter_decompress"]
