"""Invoice PDFs: fonts, logos, the invoice view model, the fpdf2 renderer and the yearly ZIP."""
