"""The bytes every Catalog must answer with, from the tutorial's Go program (Encoder.Encode: compact, newline)."""

USER_1 = (
    '[{"id":1,"slug":"iphone-x","description":"64GB, black and iOS 12","price_in_cents":99999,'
    '"discount_value":{"pct":0.1,"value_in_cents":89999}},'
    '{"id":2,"slug":"notebook-avell-g1511","description":"Notebook Gamer Intel Core i7","price_in_cents":150000,'
    '"discount_value":{"pct":0.1,"value_in_cents":135000}},'
    '{"id":3,"slug":"playstation-4-slim","description":"1TB Console","price_in_cents":32999,'
    '"discount_value":{"pct":0.1,"value_in_cents":29699}}]\n'
)

USER_2 = (
    '[{"id":1,"slug":"iphone-x","description":"64GB, black and iOS 12","price_in_cents":99999,'
    '"discount_value":{}},'
    '{"id":2,"slug":"notebook-avell-g1511","description":"Notebook Gamer Intel Core i7","price_in_cents":150000,'
    '"discount_value":{}},'
    '{"id":3,"slug":"playstation-4-slim","description":"1TB Console","price_in_cents":32999,'
    '"discount_value":{}}]\n'
)

NO_DISCOUNT = (
    '[{"id":1,"slug":"iphone-x","description":"64GB, black and iOS 12","price_in_cents":99999},'
    '{"id":2,"slug":"notebook-avell-g1511","description":"Notebook Gamer Intel Core i7","price_in_cents":150000},'
    '{"id":3,"slug":"playstation-4-slim","description":"1TB Console","price_in_cents":32999}]\n'
)

NOT_A_NUMBER = "Customer ID is not a number.\n"
