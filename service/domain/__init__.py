"""Pure domain logic: no grpc, no peewee, no clock or randomness it is not handed."""
