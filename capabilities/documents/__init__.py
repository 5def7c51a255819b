"""Documents: upload files, extract their text page by page (text layers and
OCR), find key fields, and search them with ranked, highlighted results."""
