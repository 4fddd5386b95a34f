"""Data tools: the random scene renderer (Mitsuba 3) and make_records (sample folders → TFRecords).

Depends on tfnormals.core and the records schema only, never on the model or training.
"""
