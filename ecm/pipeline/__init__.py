"""I/O orchestration for the DAGs: read from InfluxDB → call pure ``ecm.accounting`` functions → write.

Each public function takes partition keys (ISO day / hour strings) and returns small summaries,
so DAG tasks hand keys through XCom, never DataFrames.
"""
