package servicectl_test

import (
	"fmt"

	"github.com/upkeep-go/upkeep/update/servicectl"
)

// ExampleService names the service of a module as errors name it.
func ExampleService() {
	s := servicectl.Service{Kind: servicectl.IISAppPool, Name: "ecommerce"}
	fmt.Println(s, s.Validate())
	// Output: IIS application pool ecommerce <nil>
}
