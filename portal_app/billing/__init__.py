"""The billing domain: plans, subscriptions, invoices, payments, dunning, PDFs, emails.

Never imports reflex, pages, components or state: the UI calls into this package, not back.
"""
